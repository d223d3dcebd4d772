# rewrite key bindings for zsh: Alt-r rewrites the command line with `rewrite`,
# Alt-R picks the action first.
#   eval "$(rewrite shell-init zsh)"      # in ~/.zshrc, or source this file
# Settings (shell or environment variables):
#   REWRITE_ACTION    action for Alt-r (default: fix); read at each key press
#   REWRITE_COMMAND   command to run, split at spaces (default: rewrite); read at each key press
#   REWRITE_KEY       key for the rewrite (default: \er); read when this file is sourced
#   REWRITE_PICK_KEY  key for the action picker (default: \eR); empty: no binding

# Rewrite $BUFFER with the action $1. On failure or empty output the line stays as typed
# and rewrite's message is printed above the prompt.
_rewrite_run() {
  emulate -L zsh
  local IFS=$' \t\n'
  local action=$1 original=$BUFFER postdisplay=$POSTDISPLAY out err tmp
  local -i rc
  [[ $original == *[^[:space:]]* ]] || return 1
  tmp=$(command mktemp -d "${TMPDIR:-/tmp}/rewrite.XXXXXX") || return 1
  trap : INT  # Ctrl-C stops rewrite (exit 130) and keeps the line
  POSTDISPLAY=' ⏳'
  zle -R
  print -rn -- "$original" | ${=${REWRITE_COMMAND:-rewrite}} "$action" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(<"$tmp/out") err=$(<"$tmp/err")
  command rm -rf -- "$tmp"
  POSTDISPLAY=$postdisplay
  if (( rc == 0 )) && [[ -n $out ]]; then
    POSTDISPLAY=
    BUFFER=$out
    CURSOR=$#BUFFER
    return 0
  fi
  [[ -n $err ]] || case $rc in
    0) err='rewrite: the rewrite came back empty' ;;
    130) err='rewrite: interrupted' ;;
    *) err="rewrite: failed (exit code $rc)" ;;
  esac
  zle -I
  print -ru2 -- "$err"
  return 1
}

rewrite-line() {
  _rewrite_run "${REWRITE_ACTION:-fix}"
}

# Choose an action with fzf, or from a numbered list (one key press), then rewrite.
rewrite-pick() {
  emulate -L zsh
  local IFS=$' \t\n'
  local listing action key keys=123456789abcdefghijklmnopqrstuvwxyz menu
  local -a lines
  local -i i
  listing=$(${=${REWRITE_COMMAND:-rewrite}} actions 2>&1) || {
    zle -I
    print -ru2 -- "$listing"
    return 1
  }
  lines=("${(@f)listing}")
  if (( $+commands[fzf] )); then
    action=$(print -rl -- "${lines[@]}" |
      fzf --height=40% --reverse --no-multi --prompt='rewrite> ')
    zle reset-prompt
  else
    for (( i = 1; i <= $#lines && i <= $#keys; i++ )); do
      menu+="${keys[i]}) ${lines[i]}"$'\n'
    done
    zle -M "${menu}rewrite: press the key of an action (any other key cancels)"
    zle -R
    trap 'zle -M ""; return 1' INT  # Ctrl-C cancels and keeps the line
    read -k key
    [[ $key == $'\e' ]] && while read -k -t 0.05 _; do :; done  # the rest of an arrow key
    zle -M ''
    for (( i = 1; i <= $#lines && i <= $#keys; i++ )); do
      [[ ${keys[i]} == "$key" ]] && action=${lines[i]}
    done
  fi
  action=${action%% *}
  [[ -n $action ]] || return 1
  _rewrite_run "$action"
}

zle -N rewrite-line
zle -N rewrite-pick
() {
  local keymap key='\er' pick='\eR'
  (( ${+REWRITE_KEY} )) && key=$REWRITE_KEY
  (( ${+REWRITE_PICK_KEY} )) && pick=$REWRITE_PICK_KEY
  for keymap in emacs viins; do
    [[ -n $key ]] && bindkey -M $keymap "$key" rewrite-line
    [[ -n $pick ]] && bindkey -M $keymap "$pick" rewrite-pick
  done
}
