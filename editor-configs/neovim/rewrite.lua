-- rewrite-lsp for Neovim 0.11+: rewrite the selection (or the paragraph at the cursor) with
-- a local model, through code actions. See README.md beside this file.
--
-- Install: copy to ~/.config/nvim/lua/rewrite.lua and add `require('rewrite')` to init.lua.
--
-- Optional globals, set before the require:
--   vim.g.rewrite_lsp_cmd        the server command, a list (default { 'rewrite-lsp' })
--   vim.g.rewrite_lsp_filetypes  filetypes to attach to, a list; {} attaches to every filetype
--   vim.g.rewrite_lsp_no_keys    true: define no key bindings (call the functions yourself)
--   vim.g.rewrite_lsp_preview    true: show each rewrite as a word diff first; `a` accepts,
--                                `r` rejects, `n` shows the next candidate

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

local preview = {} -- the preview window now shown: { id, client_id, win, buf }

--- Words and the blanks after them, for a word-level difference.
local function words(text)
  local found = {}
  for word in text:gmatch('%S+%s*') do
    table.insert(found, word)
  end
  return found
end

--- The difference of `original` and `replacement`, word by word: a list of { text, kind }
--- with kind 'same', 'gone' or 'new' (vim.diff compares lines: one word a line).
local function word_diff(original, replacement)
  local old, new = words(original), words(replacement)
  local hunks = vim.diff(table.concat(old, '\n') .. '\n', table.concat(new, '\n') .. '\n', {
    result_type = 'indices',
  })
  local pieces, o, n = {}, 1, 1
  local function same_until(last_old)
    while o <= last_old do
      table.insert(pieces, { old[o], 'same' })
      o, n = o + 1, n + 1
    end
  end
  for _, hunk in ipairs(hunks) do
    local old_start, old_count, new_start, new_count = unpack(hunk)
    same_until(old_count == 0 and old_start or old_start - 1)
    for i = old_start, old_start + old_count - 1 do
      table.insert(pieces, { old[i], 'gone' })
    end
    for i = new_start, new_start + new_count - 1 do
      table.insert(pieces, { new[i], 'new' })
    end
    o, n = old_start + old_count, new_start + new_count
    if old_count == 0 then
      o = old_start + 1
    end
  end
  same_until(#old)
  return pieces
end
M.word_diff = word_diff

local HIGHLIGHT = { gone = 'DiffDelete', new = 'DiffAdd' }

local function close_preview()
  if preview.win and vim.api.nvim_win_is_valid(preview.win) then
    vim.api.nvim_win_close(preview.win, true)
  end
  preview = {}
end

--- Tell the server what the user decided about the preview shown.
local function answer(command)
  local client = preview.client_id and vim.lsp.get_client_by_id(preview.client_id)
  if client then
    client:exec_cmd({ title = command, command = command, arguments = { { id = preview.id } } })
  end
end

--- Show a `rewrite/preview` from the server: the word diff in a floating window by the text.
function M.show_preview(params, client_id)
  close_preview()
  local buf = vim.api.nvim_create_buf(false, true)
  local pieces = word_diff(params.original, params.replacement)
  local line, marks = '', {}
  for _, piece in ipairs(pieces) do
    local word = vim.trim(piece[1])
    if piece[2] ~= 'same' then
      table.insert(marks, { #line, #line + #word, HIGHLIGHT[piece[2]] })
    end
    line = line .. word .. ' '
  end
  local header = ('Rewrite: %s, candidate %d of %d   a accept  r reject  n next'):format(
    params.action, params.candidate, params.candidates)
  local width = math.min(math.max(#header, 40), math.floor(vim.o.columns * 0.8))
  local body = vim.split(vim.fn.trim(line), '\n')
  local lines = { header, '' }
  vim.list_extend(lines, body)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  local ns = vim.api.nvim_create_namespace('rewrite-preview')
  for _, mark in ipairs(marks) do
    vim.api.nvim_buf_set_extmark(buf, ns, 2, mark[1], {
      end_col = math.min(mark[2], #lines[3]), hl_group = mark[3], strict = false,
    })
  end
  vim.bo[buf].modifiable = false
  local height = 2 + math.ceil(vim.fn.strdisplaywidth(lines[3]) / width)
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'cursor', row = 1, col = 0, width = width, height = height,
    style = 'minimal', border = 'rounded', title = ' rewrite ', noautocmd = true,
  })
  vim.wo[win].wrap = true
  preview = { id = params.id, client_id = client_id, win = win, buf = buf, params = params }
  local function key(lhs, command)
    vim.keymap.set('n', lhs, function()
      answer(command)
      if command ~= 'rewrite-lsp.again' then
        close_preview()
      end
    end, { buffer = buf, nowait = true })
  end
  key('a', 'rewrite-lsp.accept')
  key('<CR>', 'rewrite-lsp.accept')
  key('r', 'rewrite-lsp.reject')
  key('q', 'rewrite-lsp.reject')
  key('<Esc>', 'rewrite-lsp.reject')
  key('n', 'rewrite-lsp.again')
end

--- The preview shown now ({} when none): for scripts and tests.
function M.current_preview()
  return preview
end

local function preview_ended(_, params)
  if params and params.id == preview.id then
    close_preview()
  end
  if params and params.reason ~= 'accepted' and params.reason ~= 'rejected' then
    vim.notify('rewrite: the preview ended: ' .. params.reason, vim.log.levels.INFO)
  end
end

local capabilities = nil
if vim.g.rewrite_lsp_preview then
  capabilities = vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(), {
    experimental = { rewritePreview = true },
  })
end

vim.lsp.config(M.name, {
  cmd = cmd(),
  filetypes = filetypes(),
  capabilities = capabilities,
  handlers = {
    ['rewrite/preview'] = function(_, params, ctx)
      M.show_preview(params, ctx.client_id)
    end,
    ['rewrite/previewEnded'] = preview_ended,
  },
  root_markers = { '.git' },
  -- The server keeps no state per project: one serves every buffer, whatever its root.
  reuse_client = function(client, config)
    return client.name == config.name and not client:is_stopped()
  end,
  -- the config file's keys, e.g. { model = 'qwen2.5:1.5b' }
  init_options = vim.g.rewrite_lsp_preview and { lsp = { preview = true } } or {},
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
