// The listeners and clients of scripts/captures.sh: each mode does one
// thing the docs show, prints "READY" when it is done, and then waits.
//   lq_scene listen ADDR PORT BACKLOG      listen() and never accept
//   lq_scene burst ADDR PORT N             N non-blocking connects, held
//   lq_scene relisten ADDR PORT B1 N B2    listen(B1), N non-blocking
//                                          connects to itself (overflows
//                                          past B1 + 1), listen(B2), close
// Clients are reset (SO_LINGER 0) at SIGTERM, so no FIN retransmit outlives
// them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static socklen_t fill(const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return 0;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
		return 0;
	return sizeof(*s4);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int listener(const char *addr, int port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = fill(addr, port, &ss);
	int one = 1, fd;

	if (!len) {
		fprintf(stderr, "lq_scene: bad address %s\n", addr);
		exit(2);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog))
		die("bind/listen");
	return fd;
}

// N non-blocking connects; their fds in fds[0..n).
static void burst(const char *addr, int port, int n, int *fds)
{
	struct sockaddr_storage ss;
	socklen_t len = fill(addr, port, &ss);

	for (int i = 0; i < n; i++) {
		fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			die("socket");
		connect(fds[i], (struct sockaddr *)&ss, len);  // EINPROGRESS, or queued at once
	}
}

static void reset_all(int *fds, int n)
{
	struct linger lg = {1, 0};

	for (int i = 0; i < n; i++) {
		setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[i]);
	}
}

static void ready_and_wait(void)
{
	printf("READY\n");
	fflush(stdout);
	while (!stop)
		pause();
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	static int fds[4096];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc == 5 && !strcmp(argv[1], "listen")) {
		listener(argv[2], atoi(argv[3]), atoi(argv[4]));
		ready_and_wait();
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "burst")) {
		int n = atoi(argv[4]);

		if (n < 0 || n > 4096)
			return 2;
		burst(argv[2], atoi(argv[3]), n, fds);
		ready_and_wait();
		reset_all(fds, n);
		return 0;
	}
	if (argc == 7 && !strcmp(argv[1], "relisten")) {
		int port = atoi(argv[3]), n = atoi(argv[5]);
		int fd = listener(argv[2], port, atoi(argv[4]));

		if (n < 0 || n > 4096)
			return 2;
		sleep_ms(300);
		burst(argv[2], port, n, fds);
		sleep_ms(300);
		if (listen(fd, atoi(argv[6])))
			die("listen");
		sleep_ms(300);
		reset_all(fds, n);
		close(fd);
		printf("READY\n");
		return 0;
	}
	fprintf(stderr, "usage: lq_scene listen ADDR PORT BACKLOG | burst ADDR PORT N | relisten ADDR PORT B1 N B2\n");
	return 2;
}
