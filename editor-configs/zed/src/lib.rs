//! Zed starts rewrite-lsp through this extension: Zed runs a custom language server only
//! when an extension names its command. The command is the user's `lsp.rewrite.binary`
//! setting if there is one, else `rewrite-lsp` from the worktree's PATH.

use zed_extension_api::{
    self as zed, serde_json::Value, settings::LspSettings, LanguageServerId, Result,
};

const SERVER: &str = "rewrite-lsp";

struct RewriteExtension;

impl zed::Extension for RewriteExtension {
    fn new() -> Self {
        RewriteExtension
    }

    fn language_server_command(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(language_server_id.as_ref(), worktree)
            .ok()
            .and_then(|settings| settings.binary);
        let args = binary
            .as_ref()
            .and_then(|binary| binary.arguments.clone())
            .unwrap_or_default();
        let command = match binary.and_then(|binary| binary.path) {
            Some(path) => path,
            None => worktree.which(SERVER).ok_or_else(|| {
                format!(
                    "{SERVER} not found on PATH: install rewrite (pipx install .), \
                     or set lsp.rewrite.binary.path in Zed's settings"
                )
            })?,
        };
        Ok(zed::Command {
            command,
            args,
            env: worktree.shell_env(),
        })
    }

    /// `lsp.rewrite.initialization_options`: rewrite's settings, sent when it starts.
    fn language_server_initialization_options(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<Value>> {
        Ok(LspSettings::for_worktree(language_server_id.as_ref(), worktree)
            .ok()
            .and_then(|settings| settings.initialization_options))
    }

    /// `lsp.rewrite.settings`: the same keys, sent as the workspace settings.
    fn language_server_workspace_configuration(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<Value>> {
        Ok(LspSettings::for_worktree(language_server_id.as_ref(), worktree)
            .ok()
            .and_then(|settings| settings.settings))
    }
}

zed::register_extension!(RewriteExtension);
