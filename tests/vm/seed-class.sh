# Sourced by guest-init.sh before tcp_diag is loaded (uses its result,
# check, section, col_of, want, listen_overflows, and the unrestricted outputs in /tmp).
#
# The seed's class of kernel, simulated on this one (on 4.19 and 5.4, the
# real thing: those kernels have no sysfs BTF to hide): the static binary in
# a root that holds nothing else (no libraries), no kernel BTF in sysfs (a
# minimized copy from listenq btf-min passed with --btf), iter/tcp, tp_btf,
# fentry/fexit, the ringbuf, the sk_storage iterator and global data
# refused, no tcp_diag. What is left: kprobes, the perf buffer, CO-RE from
# a BTF file, and the kernel's walk of /proc/net/tcp: what a 4.14-5.1
# kernel has (the tracer is then trace_legacy.bpf.o, its settings in a
# map). Every number must equal the unrestricted run's, or the kernel's
# own counters.

# Recv-Q Send-Q SynQ Drops of a port's row.
row() { awk -v p=":$2\$" '$NF ~ p {print $1, $2, $3, $4; exit}' "$1"; }
# A snapshot's table without its header lines.
body() { grep -v '^listenq \|^refused\|^         ' "$1"; }
# A port's Recv-Q peak, Send-Q, and OVF-S, OVF-A summed over the frames.
watch_row() {
	awk -v a="127.0.0.1:$2" '$1 == a { if ($4 > pk) pk = $4; bl = $5; s += $8; k += $9 }
				 END { print pk + 0, bl + 0, s + 0, k + 0 }' "$1"
}
# Whether a watch_row's overflows (OVF-S + OVF-A) account for the kernel's
# ListenOverflows rise KERNEL: prints "equal", "short, said" or "wrong".
# The kernel runs no kprobe program on a CPU where one already runs
# (bpf_prog_active in trace_call_bpf()): a timer softirq that interrupts the
# sampler's kprobe walk and retransmits the clients' SYNs there overflows
# uncounted (seen on 6.12: 15 SYNs of one retransmit round). 5.12+ counts
# such runs (recursion_misses) and watch says "counts short": only then may
# the sum be short, and never over. Before 5.12 the kernel counts nothing,
# and the sum must be equal.
ovf_ok() {  # "PEAK SENDQ OVF-S OVF-A" KERNEL OUT
	set -- $1 "$2" "$3"
	if [ $(($3 + $4)) = "$5" ]; then echo equal
	elif [ $(($3 + $4)) -lt "$5" ] && grep -q 'counts short' "$6"; then echo "short, said"
	else echo wrong; fi
}
sc_watch() {  # OUT PORT COMMAND...
	out=$1 port=$2
	shift 2
	"$@" watch 1 6 --port "$port" > "$out" 2>&1 &
	wpid=$!
	for i in $(seq 1 100); do grep -q '^listenq watch' "$out" && break; sleep 0.2; done
	# The burst ends (its connects closed, SIGUSR1) well before the last
	# frame and the listener stays, so the frames hold every overflow the
	# kernel counts meanwhile.
	o0=$(listen_overflows)
	/lq/lq_listen 127.0.0.1 "$port" 4 20 nb > /dev/null 2>&1 &
	fpid=$!
	sleep 2.5
	kill -USR1 $fpid 2>/dev/null
	sleep 0.2
	kernel_ovf=$(( $(listen_overflows) - o0 ))
	wait $wpid
	wrc=$?
	kill $fpid 2>/dev/null
	wait $fpid 2>/dev/null
	return $wrc
}

# The walk alone first (the regular binary, kernel BTF there): iterators
# refused, so the snapshot and the tracer's samples come from the walk.
if want walk_; then
	LISTENQ_REFUSE=iter/tcp "$LQ" snapshot -n > /tmp/walk_snap.txt 2>&1
	rc=$?
	section walk_snapshot /tmp/walk_snap.txt
	body /tmp/walk_snap.txt > /tmp/walk_body.txt
	body /tmp/snap.txt > /tmp/snap_body.txt
	check - walk_snapshot "exit $rc; 7123: $(row /tmp/walk_snap.txt 7123) (iter/tcp: $(row /tmp/snap.txt 7123))" \
		sh -c "[ $rc = 0 ] && head -1 /tmp/walk_snap.txt | grep -q 'source kprobe/tcp_seq_show' &&
		       cmp -s /tmp/walk_body.txt /tmp/snap_body.txt"
	sc_watch /tmp/walk_watch.txt 7403 env LISTENQ_REFUSE=iter/tcp,iter/task_file,iter/bpf_sk_storage_map "$LQ"
	rc=$?
	section walk_watch /tmp/walk_watch.txt
	a=$(watch_row /tmp/walk_watch.txt 7403)
	v=$(ovf_ok "$a" $kernel_ovf /tmp/walk_watch.txt)
	check - walk_watch "exit $rc; peak Send-Q OVF-S OVF-A: $a, ListenOverflows +$kernel_ovf ($v)" \
		sh -c "set -- $a; [ $rc = 0 ] && [ \"\$1 \$2\" = '5 4' ] && [ '$v' != wrong ] &&
		       grep -q 'kprobe walk of' /tmp/walk_watch.txt"
fi

want seed_class || return 0

if [ ! -x /lq/listenq-static ]; then
	result - seed_class skip "no static binary in the initramfs: this tree has no build-static/listenq (scripts/build-static.sh)"
	return 0
fi
R=/tmp/bare
mkdir -p $R/proc $R/sys $R/tmp
cp /lq/listenq-static $R/listenq
mount -t proc proc $R/proc
mount -o bind /sys $R/sys
# The operator's step, done here with the regular binary and bpftool: a
# minimized BTF of this kernel, shipped next to the static binary.
# On a kernel without sysfs BTF (the 4.19 and 5.4 guests), from pahole's
# full BTF of the build, as from BTFHub.
if [ -e /sys/kernel/btf/vmlinux ]; then
	"$LQ" btf-min $R/vmlinux.btf > /tmp/sc_btf_min.txt 2>&1
else
	"$LQ" btf-min --vmlinux "$LISTENQ_BTF" $R/vmlinux.btf > /tmp/sc_btf_min.txt 2>&1
fi
rc=$?
section seed_class_btf_min /tmp/sc_btf_min.txt
check - seed_class_btf_min "exit $rc; $(head -1 /tmp/sc_btf_min.txt | cut -d: -f1)" \
	sh -c "[ $rc = 0 ] && [ -s $R/vmlinux.btf ]"
# Hide the kernel's BTF where it has some: the seed's class has none.
[ -d $R/sys/kernel/btf ] && mount -t tmpfs none $R/sys/kernel/btf
check - seed_class_bare_root "files in the root: $(cd $R && find . -xdev -type f | tr '\n' ' ')" \
	sh -c "[ \"$(cd $R && find . -xdev -type f | sort | tr '\n' ' ')\" = './listenq ./vmlinux.btf ' ] &&
	       [ ! -e $R/sys/kernel/btf/vmlinux ]"
SC="chroot $R /listenq --btf /vmlinux.btf"
export LISTENQ_REFUSE=iter/tcp,tp_btf,fentry,fexit,ringbuf,iter/bpf_sk_storage_map,global_data

ss -lnt > /tmp/sc_ss.txt 2>&1
section seed_class_ss /tmp/sc_ss.txt
check - seed_class_ss_sendq0 "ss -lnt Send-Q $(col_of /tmp/sc_ss.txt 7123 3): the reproduction" \
	[ "$(col_of /tmp/sc_ss.txt 7123 3)" = 0 ]

$SC snapshot -n > /tmp/sc_snap.txt 2>&1
rc=$?
section seed_class_snapshot /tmp/sc_snap.txt
a=$(row /tmp/sc_snap.txt 7123) b=$(row /tmp/snap.txt 7123)
check - seed_class_snapshot "exit $rc; 7123 Recv-Q Send-Q SynQ Drops: $a (unrestricted: $b)" \
	sh -c "[ $rc = 0 ] && head -1 /tmp/sc_snap.txt | grep -q 'source kprobe/tcp_seq_show' &&
	       [ '$a' = '$b' ] && [ '$(col_of /tmp/sc_snap.txt 7123 2)' = 123 ]"

$SC ss -lnt > /tmp/sc_lqss.txt 2>&1
rc=$?
section seed_class_listenq_ss /tmp/sc_lqss.txt
check - seed_class_listenq_ss "exit $rc; Send-Q $(col_of /tmp/sc_lqss.txt 7123 3), byte-identical to the unrestricted listenq ss -lnt" \
	sh -c "[ $rc = 0 ] && [ '$(col_of /tmp/sc_lqss.txt 7123 3)' = 123 ] && cmp -s /tmp/sc_lqss.txt /tmp/lqss_nodiag.txt"

$SC verify > /tmp/sc_verify.txt 2>&1
rc=$?
section seed_class_verify /tmp/sc_verify.txt
check - seed_class_verify "exit $rc; tcp_diag unavailable, /proc's tx_queue 0 explained" \
	sh -c "[ $rc = 0 ] && grep -q 'tcp_diag: unavailable' /tmp/sc_verify.txt && grep -q 'tx_queue is 0' /tmp/sc_verify.txt"

sc_watch /tmp/sc_watch.txt 7401 $SC
rc=$?
sc_kernel=$kernel_ovf
section seed_class_watch /tmp/sc_watch.txt
unset LISTENQ_REFUSE
sc_watch /tmp/sc_watch_full.txt 7402 /lq/listenq-static
full_kernel=$kernel_ovf
section seed_class_watch_unrestricted /tmp/sc_watch_full.txt
[ -d /sys/kernel/btf ] && umount $R/sys/kernel/btf
umount $R/sys $R/proc
a=$(watch_row /tmp/sc_watch.txt 7401) b=$(watch_row /tmp/sc_watch_full.txt 7402)
v=$(ovf_ok "$a" $sc_kernel /tmp/sc_watch.txt)
# peak and Send-Q as unrestricted; overflows split by path, their sum the
# kernel's ListenOverflows rise; the header names the kprobe tier.
check - seed_class_watch "exit $rc; peak Send-Q OVF-S OVF-A: $a, ListenOverflows +$sc_kernel ($v; unrestricted: $b, +$full_kernel)" \
	sh -c "set -- $a; [ $rc = 0 ] && [ \"\$1 \$2\" = '5 4' ] && [ \"\$1 \$2\" = \"$(echo $b | cut -d' ' -f1-2)\" ] &&
	       [ '$v' != wrong ] && [ \$3 -gt 0 ] &&
	       head -1 /tmp/sc_watch.txt | grep -q 'tier kprobe'"
