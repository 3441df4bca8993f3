#!/bin/sh
# /init of the arm64 guest (scripts/vmtest-arm64.sh): the core scenarios of
# the x86 guests (tests/vm/guest-init.sh) with the cross-built static
# listenq, against the kernel's own counters. Markers on the console:
#   LQ-RESULT|<kernel>|<tier>|<scenario>|pass|fail|<detail>
#   LQ-OUT-BEGIN|<name> ... LQ-OUT-END|<name>, LQ-DONE|<kernel>
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /sys/fs/bpf /tmp && mount -t bpf bpf /sys/fs/bpf
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
ip link set lo up
K=$(uname -r)
LQ=/lq/listenq
echo "LQ-BOOTED|$K|$(uname -m)"

ONLY= SFX=  # every scenario, once
. /lq/guest-lib.sh  # result, section, check, listen_overflows, col_of, doctor_overflow

check - uname_m "uname -m: $(uname -m)" [ "$(uname -m)" = aarch64 ]

# The seed: backlog 123, three clients never accepted.
/lq/lq_listen 127.0.0.1 7123 123 3 > /tmp/listener.out 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q READY /tmp/listener.out && break; sleep 0.2; done

"$LQ" probe > /tmp/probe.txt 2>&1
rc=$?
section probe /tmp/probe.txt
check - probe "exit $rc" [ "$rc" = 0 ]

# /proc/net/tcp's tx_queue of a listener is 0 (what ss falls back to
# without tcp_diag); listenq reads the backlog from the kernel's socket.
txq=$(awk '$2 ~ /:1BD3$/ && $4 == "0A" { split($5, q, ":"); print q[1]; exit }' /proc/net/tcp)
"$LQ" snapshot -n > /tmp/snap.txt 2>&1
section snapshot /tmp/snap.txt
check - snapshot "listenq snapshot Recv-Q $(col_of /tmp/snap.txt 7123 1) Send-Q $(col_of /tmp/snap.txt 7123 2); /proc/net/tcp tx_queue $txq" \
	[ "$(col_of /tmp/snap.txt 7123 1) $(col_of /tmp/snap.txt 7123 2)" = "3 123" ]
"$LQ" ss -lnt > /tmp/lqss.txt 2>&1
section listenq_ss_nodiag /tmp/lqss.txt
check - listenq_ss_nodiag "listenq ss -lnt Send-Q $(col_of /tmp/lqss.txt 7123 3) without tcp_diag" \
	[ "$(col_of /tmp/lqss.txt 7123 3)" = 123 ]
"$LQ" verify > /tmp/verify_nodiag.txt 2>&1
rc=$?
section verify_nodiag /tmp/verify_nodiag.txt
check - verify_nodiag "exit $rc; tcp_diag unavailable, /proc's tx_queue 0 explained" \
	sh -c "[ $rc = 0 ] && grep -q 'tcp_diag: unavailable' /tmp/verify_nodiag.txt && grep -q 'tx_queue is 0' /tmp/verify_nodiag.txt"

# watch during an overflow burst, per tier: backlog 4, 20 non-blocking
# connects, and the listener (with its clients) killed within a frame
# once the kernel has counted overflows; nothing else overflows here, so the frames' overflows, the closed
# listener's last row included, must equal the kernel's ListenOverflows
# rise. A tier the kernel cannot attach (fentry before arm64 had ftrace
# direct calls) must exit 3 and say why: a skip with its words.
port=7400
for attach in auto fentry kprobe tracepoint; do
	o0=$(listen_overflows)
	"$LQ" --attach=$attach watch 1 8 --json --port $port > /tmp/watch_$attach.json 2> /tmp/watch_$attach.err &
	wpid=$!
	for i in $(seq 1 600); do [ -s /tmp/watch_$attach.json ] || [ -s /tmp/watch_$attach.err ] && break; sleep 0.2; done
	/lq/lq_listen 127.0.0.1 $port 4 20 nb > /dev/null 2>&1 &
	fpid=$!
	# Killed once the kernel has counted overflows and a frame has passed
	# (a starved guest handles the SYNs late: never before they came).
	for i in $(seq 1 150); do [ "$(listen_overflows)" -gt "$o0" ] && break; sleep 0.2; done
	sleep 1.2
	kill -9 $fpid 2>/dev/null
	wait $fpid 2>/dev/null
	wait $wpid
	rc=$?
	o1=$(listen_overflows)
	cat /tmp/watch_$attach.err >> /tmp/watch_$attach.json
	section watch_overflow_$attach /tmp/watch_$attach.json
	if [ "$rc" = 3 ] && grep -q 'ENOTSUPP' /tmp/watch_$attach.err; then
		result $attach watch_overflow_$attach skip "exit 3: $(head -1 /tmp/watch_$attach.err)"
		port=$((port + 1))
		continue
	fi
	ovf=$(grep -o '"interval":{[^}]*}' /tmp/watch_$attach.json |
		awk -F'[:,}]' '{ for (i = 1; i < NF; i++) if ($i ~ /"overflow_(syn|ack)"/ && $(i + 1) ~ /^[0-9]+$/) s += $(i + 1) } END { print s + 0 }')
	peak=$(grep -o '"accept_queue_peak":[0-9]*' /tmp/watch_$attach.json | cut -d: -f2 | sort -n | tail -1)
	closed=$(grep -o '"closed":true' /tmp/watch_$attach.json | wc -l)
	tier=$(sed -n 's/.*"tier":"\([^"]*\)".*/\1/p' /tmp/watch_$attach.json | head -1)
	check $attach watch_overflow_$attach "exit $rc, tier $tier; accept queue peak ${peak:-?} of backlog 4; frames' overflows $ovf = ListenOverflows +$((o1 - o0)); closed rows $closed" \
		sh -c "[ $rc = 0 ] && [ '${peak:-0}' -ge 5 ] && [ $ovf -gt 0 ] && [ $ovf = $((o1 - o0)) ] && [ $closed = 1 ]"
	port=$((port + 1))
done

doctor_overflow

# With tcp_diag: all three sources agree.
for m in inet_diag tcp_diag; do insmod /lq/modules/$m.ko 2>>/tmp/insmod.txt; done
[ -s /tmp/insmod.txt ] && section insmod_errors /tmp/insmod.txt
"$LQ" verify > /tmp/verify_diag.txt 2>&1
rc=$?
section verify_diag /tmp/verify_diag.txt
check - verify_diag "exit $rc; all three sources, 0 mismatch" \
	sh -c "[ $rc = 0 ] && grep -q 'tcp_diag: available' /tmp/verify_diag.txt && grep -q ' 0 mismatch' /tmp/verify_diag.txt"

echo "LQ-DONE|$K"
poweroff -f
