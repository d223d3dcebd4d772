-- rewrite-lsp through nvim-lspconfig's legacy setup(), for Neovim 0.9 and 0.10 (on 0.11+
-- use rewrite.lua beside this file). See LSPCONFIG.md.
--
-- Install: with nvim-lspconfig installed, copy to ~/.config/nvim/lua/rewrite_lspconfig.lua
-- and add `require('rewrite_lspconfig')` to init.lua.
--
-- Optional globals, set before the require (the same as rewrite.lua's):
--   vim.g.rewrite_lsp_cmd        the server command, a list (default { 'rewrite-lsp' })
--   vim.g.rewrite_lsp_filetypes  filetypes to attach to, a list; {} attaches to every filetype
--   vim.g.rewrite_lsp_no_keys    true: define no key bindings (call the functions yourself)
--   vim.g.rewrite_lsp_setup      a table merged into the setup() call, e.g.
--                                { init_options = { model = 'qwen2.5:3b' } }

local lspconfig = require('lspconfig')
local configs = require('lspconfig.configs')
local util = require('lspconfig.util')

local M = {}

M.name = 'rewrite'
M.command = 'rewrite-lsp.rewrite' -- the command every rewrite code action carries
M.kind = 'refactor.rewrite'

M.filetypes = {
  'markdown', 'text', 'gitcommit', 'mail', 'rst', 'asciidoc', 'org', 'tex', 'plaintex',
  'html', 'python', 'lua', 'javascript', 'typescript', 'go', 'rust', 'c', 'cpp', 'java', 'sh',
}

local function filetypes()
  local chosen = vim.g.rewrite_lsp_filetypes
  if chosen == nil then
    return M.filetypes
  end
  return next(chosen) ~= nil and chosen or nil -- nil: lspconfig attaches to every filetype
end

if not configs[M.name] then
  configs[M.name] = {
    default_config = {
      cmd = vim.g.rewrite_lsp_cmd or { 'rewrite-lsp' },
      filetypes = filetypes(),
      root_dir = util.root_pattern('.git'),
      single_file_support = true, -- a file outside any repository gets the server too
      init_options = {}, -- the config file's keys, e.g. { model = 'qwen2.5:1.5b' }
      settings = { rewrite = {} }, -- the same keys, sent after start
    },
    docs = {
      description = 'rewrite-lsp: rewrite the selection with a local model (Ollama).',
    },
  }
end

lspconfig[M.name].setup(vim.g.rewrite_lsp_setup or {})

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

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('rewrite-lspconfig', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= M.name or vim.g.rewrite_lsp_no_keys then
      return
    end
    local function map(lhs, fn, desc)
      vim.keymap.set({ 'n', 'x' }, lhs, function()
        fn()
      end, { buffer = args.buf, desc = desc })
    end
    map('<leader>rr', M.menu, 'Rewrite: menu')
    map('<leader>rf', M.fix, 'Rewrite: fix spelling and grammar')
  end,
})

return M
