// Guest helper (static): a listener with a given backlog and N clients
// that connect but are never accepted. Prints "READY <port>" and holds the
// sockets until killed.
//   lq_listen ADDR PORT BACKLOG NCLIENTS [nb]
// With "nb" the clients connect non-blocking (a flood that overflows the
// queue instead of waiting on it). SIGUSR1 closes the clients (their SYN
// retransmits stop) and keeps the listener.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t close_clients;

static void on_usr1(int sig)
{
	(void)sig;
	close_clients = 1;
}

static int fill(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, addr, &s4->sin_addr) == 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	int nb = argc == 6 && !strcmp(argv[5], "nb");

	if ((argc != 5 && !nb) || !fill(argv[1], atoi(argv[2]), &ss, &len)) {
		fprintf(stderr, "usage: lq_listen ADDR PORT BACKLOG NCLIENTS [nb]\n");
		return 2;
	}
	int l = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, atoi(argv[3]))) {
		perror("lq_listen: bind/listen");
		return 1;
	}
	int n = atoi(argv[4]), *clients = calloc(n > 0 ? n : 1, sizeof(int));
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < n; i++) {
		int c = socket(ss.ss_family, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
		if (connect(c, (struct sockaddr *)&ss, len) && !(nb && errno == EINPROGRESS)) {
			perror("lq_listen: connect");
			return 1;
		}
		clients[i] = c;
	}
	printf("READY %s\n", argv[2]);
	fflush(stdout);
	for (;;) {
		pause();
		if (close_clients) {
			for (int i = 0; i < n; i++)
				close(clients[i]);
			close_clients = 0;
			n = 0;
		}
	}
}
