# rewrite key bindings for bash 4.2+: Alt-r rewrites the command line with `rewrite`,
# Alt-R picks the action first.
#   eval "$(rewrite shell-init bash)"     # in ~/.bashrc, or source this file
# Settings (shell or environment variables):
#   REWRITE_ACTION    action for Alt-r (default: fix); read at each key press
#   REWRITE_COMMAND   command to run, split at spaces (default: rewrite); read at each key press
#   REWRITE_KEY       key for the rewrite (default: \er); read when this file is sourced
#   REWRITE_PICK_KEY  key for the action picker (default: \eR); empty: no binding
# Readline gives `bind -x` no control over undo: undo after a rewrite steps back through
# the typed line, not to the line before the rewrite.

# Rewrite READLINE_LINE with the action $1. On failure or empty output the line stays as
# typed and rewrite's message is printed above the prompt.
_rewrite_run() {
  local IFS=$' \t\n'
  local action=$1 original=$READLINE_LINE out='' err='' tmp rc
  local -a cmd
  [[ $original == *[![:space:]]* ]] || return 1
  read -ra cmd <<<"${REWRITE_COMMAND:-rewrite}"
  tmp=$(command mktemp -d "${TMPDIR:-/tmp}/rewrite.XXXXXX") || return 1
  printf '%s' '[rewriting…]' >&2
  # A job of its own, not $(...): Ctrl-C then stops rewrite (exit 130) and keeps the line.
  "${cmd[@]}" "$action" <<<"$original" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  # Not $(<file): in bash 5.2 that, run from bind -x, drops the first word of the next command.
  IFS= read -r -d '' out <"$tmp/out" || :
  IFS= read -r -d '' err <"$tmp/err" || :
  command rm -rf -- "$tmp"
  printf '\r\033[K' >&2
  out=${out%"${out##*[!$'\n']}"} err=${err%"${err##*[!$'\n']}"}
  if ((rc == 0)) && [[ -n $out ]]; then
    READLINE_LINE=$out
    READLINE_POINT=${#out}
    return 0
  fi
  [[ -n $err ]] || case $rc in
    0) err='rewrite: the rewrite came back empty' ;;
    130) err='rewrite: interrupted' ;;
    *) err="rewrite: failed (exit code $rc)" ;;
  esac
  printf '%s\n' "$err" >&2
  return 1
}

_rewrite_line() {
  _rewrite_run "${REWRITE_ACTION:-fix}"
}

# Choose an action with fzf, or from a numbered list (one key press), then rewrite.
_rewrite_pick() {
  local IFS=$' \t\n'
  local listing action key keys=123456789abcdefghijklmnopqrstuvwxyz i
  local -a cmd lines
  read -ra cmd <<<"${REWRITE_COMMAND:-rewrite}"
  listing=$("${cmd[@]}" actions 2>&1) || {
    printf '%s\n' "$listing" >&2
    return 1
  }
  mapfile -t lines <<<"$listing"
  if type -P fzf >/dev/null; then
    action=$(printf '%s\n' "${lines[@]}" |
      fzf --height=40% --reverse --no-multi --prompt='rewrite> ')
  else
    for ((i = 0; i < ${#lines[@]} && i < ${#keys}; i++)); do
      printf '%s) %s\n' "${keys:i:1}" "${lines[i]}" >&2
    done
    printf 'rewrite: press the key of an action (any other key cancels)' >&2
    IFS= read -rsn1 key
    [[ $key == $'\e' ]] && read -rsn32 -t 0.05 _  # the rest of an arrow key or Alt-key
    # Take the menu off the screen again.
    printf '\r\033[%dA\033[J' "$i" >&2
    for ((i = 0; i < ${#lines[@]} && i < ${#keys}; i++)); do
      [[ ${keys:i:1} == "$key" ]] && action=${lines[i]}
    done
  fi
  action=${action%% *}
  [[ -n $action ]] || return 1
  _rewrite_run "$action"
}

_rewrite_bind() {
  local keymap key='\er' pick='\eR'
  [[ -v REWRITE_KEY ]] && key=$REWRITE_KEY
  [[ -v REWRITE_PICK_KEY ]] && pick=$REWRITE_PICK_KEY
  for keymap in emacs vi-insert; do
    [[ -n $key ]] && bind -m "$keymap" -x "\"$key\": _rewrite_line"
    [[ -n $pick ]] && bind -m "$keymap" -x "\"$pick\": _rewrite_pick"
  done
}
_rewrite_bind
unset -f _rewrite_bind
