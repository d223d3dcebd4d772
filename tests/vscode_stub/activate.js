'use strict';
// Activates editor-configs/vscode/extension.js with stand-ins for the `vscode` module and
// `vscode-languageclient/node`, and checks what it does with them. Usage:
//   node activate.js path/to/extension.js
// Exits non-zero with the failed assertion on stderr; prints "ok" when all passed.

const assert = require('node:assert/strict');
const Module = require('node:module');

const extensionPath = process.argv[2];
const SETTINGS = { model: 'qwen2.5:3b', lsp: { prefetch: 'fix' } };

// ---------------------------------------------------------------- the vscode stand-in

const configuration = {
  serverPath: '/opt/rewrite/bin/rewrite-lsp',
  serverArgs: ['--flag'],
  settings: SETTINGS,
};
const registered = new Map(); // command name -> handler
const executed = []; // [name, ...args] of every executeCommand that is not a code-action query
const messages = [];
const configurationListeners = [];

const FIX_ARGUMENT = { uri: 'file:///notes.md', action: 'fix', hash: 'h' };
const offeredActions = [
  { title: 'Other: rewrite', kind: 'refactor.rewrite', command: { command: 'other.cmd', arguments: [{ action: 'fix' }] } },
  { title: 'Rewrite: make it shorter', command: { command: 'rewrite-lsp.rewrite', arguments: [{ action: 'concise' }] } },
  { title: 'Rewrite: fix spelling and grammar', command: { command: 'rewrite-lsp.rewrite', arguments: [FIX_ARGUMENT] } },
];
let codeActionQuery;

const vscode = {
  CodeActionTriggerKind: { Invoke: 1, Automatic: 2 },
  workspace: {
    getConfiguration(section) {
      assert.equal(section, 'rewrite');
      return { get: (key) => configuration[key] };
    },
    onDidChangeConfiguration(listener) {
      configurationListeners.push(listener);
      return { dispose() {} };
    },
  },
  commands: {
    registerCommand(name, handler) {
      registered.set(name, handler);
      return { dispose() {} };
    },
    async executeCommand(name, ...args) {
      if (name === 'vscode.executeCodeActionProvider') {
        codeActionQuery = args;
        return offeredActions;
      }
      executed.push([name, ...args]);
      return undefined;
    },
  },
  window: {
    activeTextEditor: {
      document: { uri: 'file:///notes.md' },
      selection: { isEmpty: true, start: 3, end: 3 },
    },
    showErrorMessage: (text) => messages.push(text),
    showInformationMessage: (text) => messages.push(text),
  },
};

// ------------------------------------------------ the vscode-languageclient stand-in

const clients = [];

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions });
    this.started = false;
    this.stopped = false;
    this.notifications = [];
    clients.push(this);
  }
  async start() {
    this.started = true;
  }
  async stop() {
    this.stopped = true;
  }
  async sendNotification(method, params) {
    this.notifications.push([method, params]);
  }
}

const languageclient = { LanguageClient, TransportKind: { stdio: 0, ipc: 1, pipe: 2, socket: 3 } };

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return languageclient;
  return load.call(this, request, parent, isMain);
};

// ---------------------------------------------------------------------- the checks

async function main() {
  const extension = require(extensionPath);
  assert.equal(typeof extension.activate, 'function');
  assert.equal(typeof extension.deactivate, 'function');

  const context = { subscriptions: [] };
  await extension.activate(context);

  // One client, for the configured command over stdio, started.
  assert.equal(clients.length, 1);
  const [client] = clients;
  assert.equal(client.id, 'rewrite');
  assert.deepEqual(client.serverOptions, {
    command: '/opt/rewrite/bin/rewrite-lsp',
    args: ['--flag'],
    transport: languageclient.TransportKind.stdio,
  });
  assert.equal(client.started, true);
  const options = client.clientOptions;
  assert.deepEqual(options.documentSelector, [{ scheme: 'file' }, { scheme: 'untitled' }]);
  assert.equal(options.synchronize.configurationSection, 'rewrite');
  assert.deepEqual(options.initializationOptions, SETTINGS);
  assert.ok(context.subscriptions.length >= 3, 'commands and listener are disposed with the extension');
  assert.ok(registered.has('rewrite.fix') && registered.has('rewrite.restartServer'));

  // The server gets rewrite.settings as the section `rewrite`, never serverPath.
  await options.middleware.workspace.didChangeConfiguration(['rewrite'], async () => {
    throw new Error('the default would send the whole section');
  });
  assert.deepEqual(client.notifications, [
    ['workspace/didChangeConfiguration', { settings: { rewrite: SETTINGS } }],
  ]);
  const pulled = await options.middleware.workspace.configuration(
    { items: [{ section: 'rewrite' }, { section: 'editor' }] },
    undefined,
    async () => [{ serverPath: 'x' }, { tabSize: 4 }]
  );
  assert.deepEqual(pulled, [SETTINGS, { tabSize: 4 }]);

  // No light bulb at a bare cursor; a selection and an explicit request reach the server.
  const provide = options.middleware.provideCodeActions;
  let asked = 0;
  const next = async () => {
    asked += 1;
    return ['actions'];
  };
  const automatic = { triggerKind: vscode.CodeActionTriggerKind.Automatic };
  const invoked = { triggerKind: vscode.CodeActionTriggerKind.Invoke };
  assert.deepEqual(await provide('doc', { isEmpty: true }, automatic, undefined, next), []);
  assert.equal(asked, 0);
  assert.deepEqual(await provide('doc', { isEmpty: false }, automatic, undefined, next), ['actions']);
  assert.deepEqual(await provide('doc', { isEmpty: true }, invoked, undefined, next), ['actions']);
  assert.equal(asked, 2);

  // rewrite.fix runs rewrite-lsp's fix action for the selection, not another server's.
  await registered.get('rewrite.fix')();
  assert.deepEqual(codeActionQuery, [
    'file:///notes.md',
    vscode.window.activeTextEditor.selection,
    'refactor.rewrite',
  ]);
  assert.deepEqual(executed, [['rewrite-lsp.rewrite', FIX_ARGUMENT]]);
  offeredActions.splice(1);
  await registered.get('rewrite.fix')();
  assert.equal(executed.length, 1);
  assert.match(messages.at(-1), /nothing to fix/);

  // A new server path restarts the server; other settings do not.
  configuration.serverPath = 'rewrite-lsp';
  const event = (key) => ({ affectsConfiguration: (name) => name === key });
  for (const listener of configurationListeners) await listener(event('rewrite.settings'));
  assert.equal(clients.length, 1);
  for (const listener of configurationListeners) await listener(event('rewrite.serverPath'));
  assert.equal(clients.length, 2);
  assert.equal(client.stopped, true);
  assert.equal(clients[1].started, true);
  assert.equal(clients[1].serverOptions.command, 'rewrite-lsp');

  // deactivate stops the running client.
  await extension.deactivate();
  assert.equal(clients[1].stopped, true);
  console.log('ok');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
