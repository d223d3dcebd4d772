# rewrite-lsp for Kakoune through kakoune-lsp (the `lsp_servers` option): rewrite the
# selection, or the paragraph at the cursor, with a local model, from the code actions.
# See README.md beside this file.
#
# Install: add to your kakrc after kakoune-lsp is loaded and enabled (`lsp-enable`).

# The server, as an entry of `lsp_servers` (TOML).
declare-option -docstring 'rewrite-lsp, an lsp_servers entry' str lsp_server_rewrite %{
    [rewrite]
    command = "rewrite-lsp"
    args = []
    root_globs = [".git", ".hg"]
    # Sent as initializationOptions, and as the workspace settings section "rewrite".
    settings_section = "rewrite"
    [rewrite.settings.rewrite]
    # rewrite's settings, the keys of its config file, which they override:
    # model = "qwen2.5:3b"
    # lsp = { prefetch = "fix", log_text = false }
}

# Kakoune has no filetype for plain text: give *.txt one.
hook global BufCreate .*[.]txt %{
    set-option buffer filetype text
}

# Beside each filetype's own servers (-add keeps them).
hook global BufSetOption filetype=(?:text|markdown|git-commit|python|rust|javascript|typescript|go|c|cpp) %{
    set-option -add buffer lsp_servers %opt{lsp_server_rewrite}
}

# <space>r: the code-action menu (the rewrites among other servers' actions).
# <space>f: fix spelling and grammar at once.
map -docstring 'code actions (rewrites)' global user r ':lsp-code-actions<ret>'
map -docstring 'rewrite: fix spelling and grammar' global user f %{:lsp-code-action '^Rewrite( paragraph)?: fix spelling'<ret>}
