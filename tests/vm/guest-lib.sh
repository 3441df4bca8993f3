# Sourced by the guests' /init (tests/vm/guest-init.sh, the x86 kernels;
# tests/vm/guest-arm64.sh): their result markers and the scenarios they
# share. Uses K (uname -r), LQ (listenq), ONLY (lq.only) and SFX (the
# tcp_diag state in scenario names; empty where each scenario runs once).
result() { echo "LQ-RESULT|$K|$1|$2$SFX|$3|$4"; echo "LQ-TIME|$2$SFX|$(cut -d' ' -f1 /proc/uptime)"; }
section() { echo "LQ-OUT-BEGIN|$1$SFX"; cat "$2"; echo "LQ-OUT-END|$1$SFX"; }
# lq.only is a comma-separated list of scenario-name prefixes.
want() {
	[ -z "$ONLY" ] && return 0
	for p in $(echo "$ONLY" | tr , ' '); do
		case "$1$SFX" in "$p"*) return 0 ;; esac
	done
	return 1
}
# check TIER SCENARIO DETAIL COMMAND...: pass when COMMAND succeeds
check() {
	t=$1 s=$2 d=$3
	shift 3
	want "$s" || return 0
	if "$@"; then result "$t" "$s" pass "$d"; else result "$t" "$s" fail "$d"; fi
}
# The netns's TcpExt ListenOverflows, the kernel's own count.
listen_overflows() {
	awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 }
			  else for (i = 1; i <= NF; i++) if (n[i] == "ListenOverflows") print $i }' /proc/net/netstat
}
col_of() { awk -v p=":$2\$" -v c="$3" '$4 ~ p || $5 ~ p {print $c; exit}' "$1"; }

# --- listenq doctor during an overflow burst: a listener with backlog 4
# that never accepts, 20 connects. It must exit 1 (a finding needs action)
# and name the accept queue's overflow, with the kernel's ListenOverflows
# rise in its window.
doctor_overflow() {
	want doctor_overflow || return 0
	o0=$(listen_overflows)
	"$LQ" doctor 4 --port 7405 > /tmp/doctor.txt 2>&1 &
	dpid=$!
	sleep 1.5
	/lq/lq_listen 127.0.0.1 7405 4 20 nb > /dev/null 2>&1 &
	fpid=$!
	wait $dpid
	rc=$?
	kill $fpid 2>/dev/null
	wait $fpid 2>/dev/null
	o1=$(listen_overflows)
	echo "(ListenOverflows +$((o1 - o0)) in the kernel's counters meanwhile)" >> /tmp/doctor.txt
	section doctor_overflow /tmp/doctor.txt
	check - doctor_overflow "exit $rc (1: needs action); ListenOverflows +$((o1 - o0))" \
		sh -c "[ $rc = 1 ] && grep -qi 'overflow' /tmp/doctor.txt && [ $((o1 - o0)) -gt 0 ]"
}
