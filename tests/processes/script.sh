# Run by Debian's dash natively and on xos (run_processes_test.py): the same output and status.
echo "start: $0 $#: $*"
upper=$(echo "command substitution" | /bin/procs child-upper)
echo "subst: $upper"
echo "nested: $(echo "$(echo inner) outer")"
first=$(printf '%s\n' charlie alpha bravo | /usr/bin/sort | /usr/bin/head -n 1)
echo "pipeline: $first"
printf 'one\ntwo\nthree\n' | while read -r word; do echo "read: $word"; done

# Background jobs and wait.
(exit 3) &
first_job=$!
(exit 4) &
second_job=$!
wait $first_job
echo "wait first: $?"
wait $second_job
echo "wait second: $?"
(echo "background output" | /bin/procs child-upper) >&2 &
wait
echo "wait all: $?"

# Traps.
trap 'echo "trap: USR1"' USR1
kill -USR1 $$
echo "after the trap"
trap - USR1
/usr/bin/dash -c 'kill -TERM $$; echo not reached'
echo "child killed by SIGTERM: $?"
/usr/bin/dash -c 'trap "echo child trap EXIT" EXIT; exit 5'
echo "child exit: $?"

# Redirections.
{ echo "to stdout"; echo "to stderr" >&2; } 2>&1 | /bin/procs child-upper
read -r line < /data/input.txt
echo "from a file: $line"
exec 3>&1
echo "through fd 3" >&3
exec 3>&-
/bin/procs child-upper <<END
here document $upper
END

# set -e.
(set -e; false; echo "not reached")
echo "set -e subshell: $?"
set -e
if false; then echo no; fi
false || echo "false || ok"

# A loop of processes.
i=0
while [ $i -lt 20 ]; do
    i=$((i + 1))
    out=$(echo "$i" | /bin/procs child-upper)
done
echo "loop: $i $out"
/usr/bin/nonexistent || echo "missing command: $?"
trap 'echo "exit trap"' EXIT
exit 3
