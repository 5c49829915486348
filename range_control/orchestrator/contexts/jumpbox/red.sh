#!/bin/sh
# range-red-people: the red cell's jumpbox. One login per person (RANGE_JUMPBOX_PEOPLE: one
# "user:password" per line), none for the team user; every session goes through
# range-session, which logs what it runs, and an interactive shell logs each command line. A
# person's lines go into a pipe only that person's group may write; root reads each pipe and
# prints its lines, named by the pipe's owner, on the jumpbox's output:
#   range-command <user> <unix time> <command line>
# which the range reads from the engine's logs (nobody in a session can write as another).
set -eu
: "${RANGE_JUMPBOX_PEOPLE:?}"
mkdir -p /run/range-log
chmod 0711 /run/range-log
users=""
while IFS=: read -r user password; do
  [ -n "$user" ] || continue
  if ! id "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$user"
    # Debian's .bashrc keeps a line starting with a space out of the history (ignoreboth):
    # here every line is kept, so every line is logged.
    sed -i -e '/^HISTCONTROL=/d' "/home/$user/.bashrc"
  fi
  printf '%s:%s\n' "$user" "$password" | chpasswd
  pipe=/run/range-log/$user
  [ -p "$pipe" ] || mkfifo "$pipe"
  chown "root:$user" "$pipe"
  chmod 0620 "$pipe"
  # Held open both ways: never at end of file, and no line lost between two writers.
  (
    exec 3<>"$pipe"
    while IFS= read -r line <&3; do
      printf 'range-command %s %s\n' "$user" "$line"
    done
  ) &
  users="$users $user"
done <<PEOPLE
$RANGE_JUMPBOX_PEOPLE
PEOPLE
unset RANGE_JUMPBOX_PEOPLE
sed -i -e "s/^AllowUsers .*/AllowUsers$users/" /etc/ssh/sshd_config
printf 'ForceCommand /usr/local/sbin/range-session\n' >> /etc/ssh/sshd_config
cat /usr/local/share/range/red.bashrc >> /etc/bash.bashrc
