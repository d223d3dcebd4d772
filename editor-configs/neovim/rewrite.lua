-- rewrite-lsp for Neovim 0.11+: rewrite the selection (or the paragraph at the cursor) with
-- a local model, through code actions. See README.md beside this file.
--
-- Install: copy to ~/.config/nvim/lua/rewrite.lua and add `require('rewrite')` to init.lua.
--
-- Optional globals, set before the require:
--   vim.g.rewrite_lsp_cmd        the server command, a list (default { 'rewrite-lsp' })
--   vim.g.rewrite_lsp_filetypes  filetypes to attach to, a list; {} attaches to every filetype
--   vim.g.rewrite_lsp_no_keys    true: define no key bindings (call the functions yourself)

local M = {}

M.name = 'rewrite'
M.command = 'rewrite-lsp.rewrite' -- the command every rewrite code action carries
M.kind = 'refactor.rewrite'

-- Prose, and code with comments and docstrings. The server keeps the model loaded while it
-- runs: that is why it does not start for every filetype by default.
M.filetypes = {
  'markdown', 'text', 'gitcommit', 'mail', 'rst', 'asciidoc', 'org', 'tex', 'plaintex',
  'html', 'python', 'lua', 'javascript', 'typescript', 'go', 'rust', 'c', 'cpp', 'java', 'sh',
}

local function filetypes()
  local chosen = vim.g.rewrite_lsp_filetypes
  if chosen == nil then
    return M.filetypes
  end
  return next(chosen) ~= nil and chosen or nil -- nil: Neovim attaches to every filetype
end

local function cmd()
  return vim.g.rewrite_lsp_cmd or { 'rewrite-lsp' }
end

vim.lsp.config(M.name, {
  cmd = cmd(),
  filetypes = filetypes(),
  root_markers = { '.git' },
  -- The server keeps no state per project: one serves every buffer, whatever its root.
  reuse_client = function(client, config)
    return client.name == config.name and not client:is_stopped()
  end,
  init_options = {}, -- the config file's keys, e.g. { model = 'qwen2.5:1.5b' }
  settings = { rewrite = {} }, -- the same keys, sent after start; they win over init_options
})
vim.lsp.enable(M.name)

if vim.fn.executable(cmd()[1]) == 0 then
  vim.notify(
    ('rewrite: %s is not executable; install rewrite or set vim.g.rewrite_lsp_cmd'):format(cmd()[1]),
    vim.log.levels.WARN
  )
end

--- Whether a code action is one of ours (other servers also use the kind refactor.rewrite).
local function is_rewrite(action)
  return type(action.command) == 'table' and action.command.command == M.command
end

local function action_of(action)
  local arguments = action.command.arguments
  return type(arguments) == 'table' and type(arguments[1]) == 'table' and arguments[1].action
end

local function request(opts, extra)
  opts = vim.tbl_extend('force', { context = { only = { M.kind } } }, opts or {}, extra)
  vim.lsp.buf.code_action(opts)
end

--- The rewrite menu: every rewrite action for the selection, or the paragraph at the cursor.
--- `opts` goes to vim.lsp.buf.code_action (e.g. `range`).
function M.menu(opts)
  request(opts, { filter = is_rewrite })
end

--- Apply the rewrite action `name` (a key of `actions:` in rewrite's config) at once.
function M.run(name, opts)
  request(opts, {
    apply = true,
    filter = function(action)
      return is_rewrite(action) and action_of(action) == name
    end,
  })
end

--- Fix spelling and grammar at once.
function M.fix(opts)
  M.run('fix', opts)
end

local function map_keys(bufnr)
  local function map(lhs, fn, desc)
    vim.keymap.set({ 'n', 'x' }, lhs, function()
      fn()
    end, { buffer = bufnr, desc = desc })
  end
  map('<leader>rr', M.menu, 'Rewrite: menu')
  map('<leader>rf', M.fix, 'Rewrite: fix spelling and grammar')
end

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('rewrite-lsp', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == M.name and not vim.g.rewrite_lsp_no_keys then
      map_keys(args.buf)
    end
  end,
})

return M
