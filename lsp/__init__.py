"""The rewrite language server (installed as the package rewrite_lsp)."""
