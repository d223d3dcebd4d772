# rewrite key bindings for fish: Alt-r rewrites the command line with `rewrite`,
# Alt-R picks the action first.
#   rewrite shell-init fish | source      # in ~/.config/fish/config.fish, or source this file
# Settings (shell or environment variables):
#   REWRITE_ACTION    action for Alt-r (default: fix); read at each key press
#   REWRITE_COMMAND   command to run, split at spaces (default: rewrite); read at each key press
#   REWRITE_KEY       key for the rewrite (default: \er); read when this file is sourced
#   REWRITE_PICK_KEY  key for the action picker (default: \eR); empty: no binding

function __rewrite_command
    set -l cmd (string split -n ' ' -- $REWRITE_COMMAND)
    set -q cmd[1]; or set cmd rewrite
    string join \n -- $cmd
end

# Rewrite the command line with the action $argv[1]. On failure or empty output the line
# stays as typed and rewrite's message is printed above the prompt.
function __rewrite_run -a action
    set -l original (commandline | string collect)
    string match -qr '\S' -- $original; or return 1
    set -l cmd (__rewrite_command)
    set -l dir /tmp
    test -n "$TMPDIR"; and set dir $TMPDIR
    set -l tmp (command mktemp -d $dir/rewrite.XXXXXX); or return 1
    printf '\e7 ⏳\e8' >&2
    printf '%s' $original >$tmp/in
    # Not a pipe from printf: fish would cancel this function on Ctrl-C and skip the cleanup.
    $cmd $action <$tmp/in >$tmp/out 2>$tmp/err
    set -l rc $status
    set -l out (string collect <$tmp/out)
    set -l err (string collect <$tmp/err)
    command rm -rf -- $tmp
    if test $rc -eq 0; and test -n "$out"
        commandline -r -- $out
        commandline -C (string length -- $out)
        commandline -f repaint
        return 0
    end
    if test -z "$err"
        switch $rc
            case 0
                set err 'rewrite: the rewrite came back empty'
            case 130
                set err 'rewrite: interrupted'
            case '*'
                set err "rewrite: failed (exit code $rc)"
        end
    end
    __rewrite_say $err
    return 1
end

# Print the message in place of the prompt line; fish draws the prompt again below it.
function __rewrite_say
    printf '\r\e[J' >&2
    printf '%s\n' $argv >&2
    commandline -f repaint
end

function __rewrite_line
    set -l action fix
    set -q REWRITE_ACTION[1]; and test -n "$REWRITE_ACTION"; and set action $REWRITE_ACTION
    __rewrite_run $action
end

# Choose an action with fzf, or from a numbered list (one key press), then rewrite.
function __rewrite_pick
    set -l cmd (__rewrite_command)
    set -l lines ($cmd actions 2>&1)
    or begin
        __rewrite_say $lines
        return 1
    end
    set -l action
    if command -q fzf
        set action (printf '%s\n' $lines | fzf --height=40% --reverse --no-multi --prompt='rewrite> ')
    else
        set -l keys (string split '' 123456789abcdefghijklmnopqrstuvwxyz)
        set -q lines[36]; and set -e lines[36..-1]
        printf '\n' >&2
        for line in $lines
            set -l index (contains -i -- $line $lines)
            printf '%s) %s\n' $keys[$index] $line >&2
        end
        set -l key
        read -n 1 -P 'rewrite: press the key of an action (any other key cancels) ' key
        set -l index (contains -i -- "$key" $keys)
        and set action $lines[$index]
        printf '\e[%dA\r\e[J' (math (count $lines) + 2) >&2  # the menu and the line above it
    end
    commandline -f repaint
    set action (string split -f 1 ' ' -- $action)
    test -n "$action"; or return 1
    __rewrite_run $action
end

function __rewrite_bind
    set -l key \er
    set -l pick \eR
    set -q REWRITE_KEY; and set key (string unescape -- $REWRITE_KEY)
    set -q REWRITE_PICK_KEY; and set pick (string unescape -- $REWRITE_PICK_KEY)
    for mode in default insert
        test -n "$key"; and bind -M $mode $key __rewrite_line
        test -n "$pick"; and bind -M $mode $pick __rewrite_pick
    end
end
__rewrite_bind
functions -e __rewrite_bind
