#!/bin/bash
# range-session: every SSH session on the red cell's jumpbox (sshd's ForceCommand). Logs the
# command it was given (ssh box 'cmd', scp, sftp) or the start of an interactive shell, whose
# command lines /etc/bash.bashrc logs one by one, then runs it as the user's shell would.
set -u
pipe=/run/range-log/$USER
say() {
  local line=${1//$'\n'/ ; }
  # Root holds the pipe open for reading at all times (range-red-people): opening it to write
  # does not wait, and a line of up to 4 KiB is written whole.
  printf '%s %s\n' "$(date +%s)" "${line:0:2000}" >"$pipe"
}
if [ -n "${SSH_ORIGINAL_COMMAND:-}" ]; then
  case $SSH_ORIGINAL_COMMAND in
    internal-sftp | */sftp-server)
      say "(sftp session)"
      exec /usr/lib/openssh/sftp-server
      ;;
  esac
  say "$SSH_ORIGINAL_COMMAND"
  exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
fi
say "(interactive session)"
exec /bin/bash --login -i
