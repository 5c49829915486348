
# The red cell's jumpbox: each command line of an interactive shell, logged (range-session).
# The first prompt only notes where the history stands (the file of an earlier session is read
# after this file); each later one logs the line run since, if any.
if [ -p "/run/range-log/$USER" ]; then
  __range_log() {
    local last line
    last=$(HISTTIMEFORMAT='' history 1)
    if [ -z "${__range_started:-}" ]; then
      __range_started=1 __range_seen=$last
      return
    fi
    [ "$last" = "$__range_seen" ] && return
    __range_seen=$last
    line=$(printf '%s' "$last" | sed -E '1s/^ *[0-9]+\*? +//')
    line=${line//$'\n'/ ; }
    printf '%s %s\n' "$(date +%s)" "${line:0:2000}" >"/run/range-log/$USER"
  }
  PROMPT_COMMAND=__range_log
  HISTCONTROL=
fi
