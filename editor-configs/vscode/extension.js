'use strict';
// rewrite-lsp for VS Code: starts the rewrite language server, whose rewrites are code
// actions of the kind refactor.rewrite ("Rewrite: fix spelling and grammar", ...). The
// rewrite of the selection (or of the paragraph at the cursor) arrives a moment after the
// choice, as an edit from the server. See README.md.

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

const SECTION = 'rewrite';
const KIND = 'refactor.rewrite';
const SERVER_COMMAND = 'rewrite-lsp.rewrite'; // the command every rewrite code action carries

/** The running client, if any. */
let client;

/** rewrite's own settings, the keys of its config file: `rewrite.settings`. */
function rewriteSettings() {
  return vscode.workspace.getConfiguration(SECTION).get('settings') || {};
}

function createClient() {
  const config = vscode.workspace.getConfiguration(SECTION);
  const serverOptions = {
    command: config.get('serverPath') || 'rewrite-lsp',
    args: config.get('serverArgs') || [],
    transport: TransportKind.stdio,
  };
  let created;
  const clientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    synchronize: { configurationSection: SECTION },
    initializationOptions: rewriteSettings(),
    middleware: {
      // VS Code asks for code actions at every cursor move, to show a light bulb. Without a
      // selection, leave the bulb off: the menu key still offers the paragraph's rewrites.
      provideCodeActions(document, range, context, token, next) {
        if (context.triggerKind === vscode.CodeActionTriggerKind.Automatic && range.isEmpty) {
          return [];
        }
        return next(document, range, context, token);
      },
      workspace: {
        // The `rewrite` section also holds this extension's own keys (serverPath, ...):
        // the server gets only `rewrite.settings`, whose keys are rewrite's.
        didChangeConfiguration() {
          return created.sendNotification('workspace/didChangeConfiguration', {
            settings: { [SECTION]: rewriteSettings() },
          });
        },
        async configuration(params, token, next) {
          const answer = await next(params, token);
          return params.items.map((item, index) => {
            if (item.section === SECTION) {
              return rewriteSettings();
            }
            return Array.isArray(answer) ? answer[index] : null;
          });
        },
      },
    },
  };
  created = new LanguageClient('rewrite', 'Rewrite', serverOptions, clientOptions);
  return created;
}

async function start() {
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    const command = vscode.workspace.getConfiguration(SECTION).get('serverPath');
    vscode.window.showErrorMessage(
      `Rewrite: could not start ${command} (${error && error.message}). ` +
        'Install rewrite, or set rewrite.serverPath.'
    );
  }
}

async function stop() {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop();
  }
}

async function restart() {
  await stop();
  await start();
}

function isFix(action) {
  const command = action && action.command;
  if (!command || command.command !== SERVER_COMMAND || !Array.isArray(command.arguments)) {
    return false;
  }
  const argument = command.arguments[0];
  return Boolean(argument) && argument.action === 'fix';
}

/** Fix spelling and grammar in the selection, or the paragraph at the cursor, at once. */
async function fix() {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return;
  }
  const actions =
    (await vscode.commands.executeCommand(
      'vscode.executeCodeActionProvider',
      editor.document.uri,
      editor.selection,
      KIND
    )) || [];
  const action = actions.find(isFix);
  if (!action) {
    vscode.window.showInformationMessage('Rewrite: nothing to fix here.');
    return;
  }
  await vscode.commands.executeCommand(action.command.command, ...action.command.arguments);
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('rewrite.fix', fix),
    vscode.commands.registerCommand('rewrite.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (
        event.affectsConfiguration('rewrite.serverPath') ||
        event.affectsConfiguration('rewrite.serverArgs')
      ) {
        return restart();
      }
      return undefined;
    })
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
