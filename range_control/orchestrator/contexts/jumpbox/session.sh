#!/bin/bash
# range-session: every SSH session on the red cell's jumpbox (sshd's ForceCommand). Logs the
# command it was given (ssh box 'cmd', scp, sftp) or the start of an interactive shell, whose
# command lines /etc/bash.bashrc logs one by one, then runs it as the user's shell would.
set -u
pipe=/run/range-log/$USER
say() {
  local line=${1//$'\n'/ ; }
  # Read-write: opening never waits for the reader, and a line is never cut by another's.
  printf '%s %s\n' "$(date +%s)" "${line:0:2000}" 1<>"$pipe"
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
