" rewrite for Vim 9: rewrite the selection, or the paragraph at the cursor, with a
" local model. Two ways, each with its keys (see README.md beside this file):
"   - the `rewrite` command as a filter: needs nothing but rewrite itself;
"   - the rewrite language server (rewrite-lsp) through ALE: a menu of the rewrites ready.
"
" Install: copy to ~/.vim/plugin/rewrite.vim. For the menu, load ALE too (Debian's vim-ale:
" `packadd! ale` in ~/.vimrc).
"
" Optional globals, set in ~/.vimrc:
"   g:rewrite_fix_key       rewrite with g:rewrite_action at once (default '<Leader>rf')
"   g:rewrite_pick_key      pick the action from a list, then rewrite (default '<Leader>ra')
"   g:rewrite_menu_key      the menu of the language server (default '<Leader>rr')
"                           Any key set to '' is not mapped.
"   g:rewrite_no_keys       1: map no keys (the <Plug> mappings and :Rewrite stay)
"   g:rewrite_action        the action of the fix key (default 'fix')
"   g:rewrite_command       the CLI, a string or a list (default 'rewrite')
"   g:rewrite_lsp_command   the server, a string or a list (default 'rewrite-lsp')
"   g:rewrite_filetypes     the filetypes ALE starts the server for (a list)
"   g:rewrite_lsp_root      the project root given to the server (default: the file's folder)
"   g:rewrite_lsp_settings  rewrite's settings for the server, e.g. {'model': 'qwen2.5:3b'}

if exists('g:loaded_rewrite') || &compatible
  finish
endif
let g:loaded_rewrite = 1

let s:save_cpo = &cpo
set cpo&vim

" Prose, and code with comments and docstrings. The server keeps the model loaded while it
" runs: that is why it does not start for every filetype.
let s:filetypes = [
      \ 'text', 'markdown', 'gitcommit', 'mail', 'rst', 'asciidoc', 'org', 'tex', 'plaintex',
      \ 'html', 'python', 'lua', 'javascript', 'typescript', 'go', 'rust', 'c', 'cpp', 'java',
      \ 'sh',
      \ ]

" ------------------------------------------------------------------ commands as lists

function! s:AsList(command) abort
  return type(a:command) == v:t_list ? copy(a:command) : [a:command]
endfunction

function! s:ShellCommand(command) abort
  " A string is used as written (it may hold arguments); a list is quoted word by word.
  if type(a:command) == v:t_list
    return join(map(copy(a:command), 'shellescape(v:val)'))
  endif
  return a:command
endfunction

function! s:Cli() abort
  return s:ShellCommand(get(g:, 'rewrite_command', 'rewrite'))
endfunction

function! s:Say(message) abort
  redraw
  echohl WarningMsg
  echomsg a:message
  echohl None
endfunction

" ------------------------------------------------------------- ALE: the language server

function! rewrite#LspExecutable(buffer) abort
  return s:AsList(get(g:, 'rewrite_lsp_command', 'rewrite-lsp'))[0]
endfunction

function! rewrite#LspCommand(buffer) abort
  let l:rest = s:AsList(get(g:, 'rewrite_lsp_command', 'rewrite-lsp'))[1:]
  return join(['%e'] + map(l:rest, 'ale#Escape(v:val)'))
endfunction

function! rewrite#LspRoot(buffer) abort
  let l:root = get(g:, 'rewrite_lsp_root', '')
  if !empty(l:root)
    return fnamemodify(expand(l:root), ':p')
  endif
  let l:name = bufname(a:buffer)
  " An unnamed buffer has no URI to give the server: ALE does not start it there.
  return empty(l:name) ? '' : fnamemodify(l:name, ':p:h')
endfunction

function! rewrite#LspOptions(buffer) abort
  return get(g:, 'rewrite_lsp_settings', {})
endfunction

function! rewrite#LspConfig(buffer) abort
  let l:settings = get(g:, 'rewrite_lsp_settings', {})
  return empty(l:settings) ? {} : {'rewrite': l:settings}
endfunction

let s:registered = 0

function! s:Register() abort
  if s:registered
    return 1
  endif
  if empty(globpath(&runtimepath, 'autoload/ale/linter.vim', 1))
    return 0
  endif
  let s:registered = 1
  " ALE runs every linter it knows for most filetypes, but for some (text, python, go,
  " rust, ...) only those it or g:ale_linters names: add ours to a list that is there.
  let g:ale_linters = get(g:, 'ale_linters', {})
  let l:explicit = get(g:, 'ale_linters_explicit', 0)
  for l:filetype in get(g:, 'rewrite_filetypes', s:filetypes)
    call ale#linter#Define(l:filetype, {
          \ 'name': 'rewrite',
          \ 'lsp': 'stdio',
          \ 'executable': function('rewrite#LspExecutable'),
          \ 'command': function('rewrite#LspCommand'),
          \ 'project_root': function('rewrite#LspRoot'),
          \ 'initialization_options': function('rewrite#LspOptions'),
          \ 'lsp_config': function('rewrite#LspConfig'),
          \ })
    let l:chosen = get(g:ale_linters, l:filetype, v:null)
    if type(l:chosen) == v:t_list
      if index(l:chosen, 'rewrite') < 0
        call add(l:chosen, 'rewrite')
      endif
    elseif l:chosen is v:null && (l:explicit || l:filetype ==# 'text')
      let g:ale_linters[l:filetype] = ['rewrite']  " ALE's own list for text is empty
    endif
  endfor
  return 1
endfunction

" Once Vim has started: after the whole vimrc (its g:ale_linters) and after the plugins
" and packages, which puts ALE on 'runtimepath' whichever way it was installed.
if v:vim_did_enter
  call s:Register()
else
  augroup rewrite_register
    autocmd!
    autocmd VimEnter * ++once call s:Register()
  augroup END
endif

function! s:MenuReady() abort
  if !s:Register()
    call s:Say('rewrite: ALE is not loaded; the menu needs it (see README.md)')
    return 0
  endif
  let l:executable = rewrite#LspExecutable(bufnr(''))
  if !executable(l:executable)
    call s:Say('rewrite: ' . l:executable . ' is not executable; install rewrite or set g:rewrite_lsp_command')
    return 0
  endif
  if index(map(copy(ale#linter#Get(&filetype)), 'v:val.name'), 'rewrite') < 0
    call s:Say('rewrite: not enabled for filetype "' . &filetype . '" (g:rewrite_filetypes, g:ale_linters)')
    return 0
  endif
  if empty(bufname('')) || empty(rewrite#LspRoot(bufnr('')))
    call s:Say('rewrite: the menu needs a file name (:w first); the fix key works anywhere')
    return 0
  endif
  return 1
endfunction

" Positions. ALE counts columns in bytes; LSP counts UTF-16 code units (all the server
" knows, as ALE names no other encoding). The menu converts both ways, so text with é, ß, “”
" or — before or inside the selection is rewritten where it is.

" UTF-16 code units in `text`.
function! s:Units(text) abort
  if &encoding !=# 'utf-8'
    return len(a:text)
  endif
  let l:units = 0
  for l:code in str2list(a:text)
    let l:units += l:code > 0xFFFF ? 2 : 1
  endfor
  return l:units
endfunction

" The byte index in `text` of UTF-16 offset `units` (the end of `text` when past it).
function! s:ByteIndex(text, units) abort
  if &encoding !=# 'utf-8'
    return min([a:units, len(a:text)])
  endif
  let [l:units, l:index] = [0, 0]
  for l:code in str2list(a:text)
    if l:units >= a:units
      break
    endif
    let l:units += l:code > 0xFFFF ? 2 : 1
    let l:index += len(nr2char(l:code))
  endfor
  return l:index
endfunction

" Move the marks '< and '> to columns that ALE, which sends a mark's column less one as
" the start and the '> column as the end, turns into the right UTF-16 positions.
" (Line-wise selections need nothing: ALE sends their lines from start to end.)
function! s:MarksInUnits() abort
  if visualmode() !=# 'v'
    return
  endif
  let [l:start, l:end] = [getpos("'<"), getpos("'>")]
  let l:first = getline(l:start[1])
  let l:last = getline(l:end[1])
  let l:start[2] = s:Units(strpart(l:first, 0, l:start[2] - 1)) + 1
  " '> is on the first byte of the last character selected: the end is after that character.
  let l:through = l:end[2] > len(l:last) ? len(l:last)
        \ : l:end[2] - 1 + len(matchstr(strpart(l:last, l:end[2] - 1), '^.'))
  let l:end[2] = s:Units(strpart(l:last, 0, l:through))
  call setpos("'<", l:start)
  call setpos("'>", l:end)
endfunction

" Ask ALE for the code actions of the last selection (after `:` ended visual mode).
function! rewrite#MenuSelection() abort
  if !s:MenuReady()
    return
  endif
  let l:visual = [visualmode(), getpos("'<"), getpos("'>")]
  let l:here = getpos('.')
  call s:AskAle(l:visual, l:here)
endfunction

" The same for the paragraph at the cursor: the server takes a one-character range as a
" bare cursor, and rewrites the paragraph around it.
function! rewrite#MenuParagraph() abort
  if !s:MenuReady()
    return
  endif
  let l:visual = [visualmode(), getpos("'<"), getpos("'>")]
  let l:here = getpos('.')
  execute "normal! v\<Esc>"
  call s:AskAle(l:visual, l:here)
endfunction

function! s:AskAle(visual, here) abort
  let l:request = {'buffer': bufnr(''), 'tick': b:changedtick,
        \ 'executable': rewrite#LspExecutable(bufnr(''))}
  call s:MarksInUnits()
  try
    " ALE reads the marks now and sends textDocument/codeAction; the answer comes later.
    call ale#codefix#Execute(2, function('s:OnActions', [l:request]))
  finally
    call s:RestoreVisual(a:visual, a:here)
  endtry
endfunction

" Make `gv` select what it selected before.
function! s:RestoreVisual(visual, here) abort
  let [l:mode, l:start, l:end] = a:visual
  if !empty(l:mode) && l:start[1] > 0 && l:end[1] <= line('$')
    call setpos('.', l:start)
    execute 'normal! ' . l:mode
    call setpos('.', l:end)
    execute "normal! \<Esc>"
  endif
  call setpos('.', a:here)
endfunction

" ALE's answer, once per language server of the filetype: `items` is [['lsp', action], ...].
function! s:OnActions(request, data, items) abort
  if empty(a:data)
    call s:Say('rewrite: ALE runs no language server here (g:ale_disable_lsp?)')
    return
  endif
  let l:connection = get(a:data, 'connection_id', '')
  if stridx(l:connection, a:request.executable . ':') != 0
    return  " another server's actions
  endif
  let l:actions = filter(map(copy(a:items), 'v:val[1]'),
        \ {_, action -> type(action) == v:t_dict && has_key(action, 'edit')
        \   && get(action, 'title', '') =~# '^Rewrite'})
  if empty(l:actions)
    call s:Say('rewrite: no rewrite is ready (is Ollama running? the fix key says why)')
    return
  endif
  " input(), as ALE's own menu: inputlist() in a channel callback wants Enter twice.
  let l:prompt = "Rewrite:\n"
  for l:index in range(len(l:actions))
    let l:prompt .= printf("%d) %s\n", l:index + 1, l:actions[l:index].title)
  endfor
  let l:chosen = str2nr(input(l:prompt . 'Type number and <Enter> (empty cancels): '))
  redraw
  if l:chosen < 1 || l:chosen > len(l:actions)
    return
  endif
  if getbufvar(a:request.buffer, 'changedtick') != a:request.tick
    call s:Say('rewrite: the text changed after the menu was asked for; nothing replaced')
    return
  endif
  call s:ApplyEdit(a:request.buffer, l:actions[l:chosen - 1].edit)
endfunction

" The TextEdits of a WorkspaceEdit (the server edits only the document asked about).
function! s:TextEdits(edit) abort
  let l:edits = []
  for l:change in get(a:edit, 'documentChanges', [])
    call extend(l:edits, get(l:change, 'edits', []))
  endfor
  for l:list in values(get(a:edit, 'changes', {}))
    call extend(l:edits, l:list)
  endfor
  return l:edits
endfunction

" Apply a WorkspaceEdit's text edits to `buffer`, last first, as one change (one `u`).
function! s:ApplyEdit(buffer, edit) abort
  let l:edits = s:TextEdits(a:edit)
  call sort(l:edits, {a, b -> a.range.start.line != b.range.start.line
        \ ? b.range.start.line - a.range.start.line
        \ : b.range.start.character - a.range.start.character})
  let l:dos = getbufvar(a:buffer, '&fileformat') ==# 'dos'
  let l:count = len(getbufline(a:buffer, 1, '$'))
  let l:top = 0
  for l:text_edit in l:edits
    let [l:from, l:to] = [l:text_edit.range.start, l:text_edit.range.end]
    let l:first = l:from.line + 1
    let l:last = min([l:to.line + 1, l:count])
    let l:head = get(getbufline(a:buffer, l:first), 0, '')
    let l:tail = get(getbufline(a:buffer, l:last), 0, '')
    let l:before = strpart(l:head, 0, s:ByteIndex(l:head, l:from.character))
    let l:after = l:to.line + 1 > l:count ? ''
          \ : strpart(l:tail, s:ByteIndex(l:tail, l:to.character))
    let l:lines = split(l:text_edit.newText, "\n", 1)
    if l:to.line + 1 > l:count && len(l:lines) > 1 && empty(l:lines[-1])
      call remove(l:lines, -1)  " the edit ran to the end: its last newline ends the file
    endif
    if l:dos
      call map(l:lines, 'substitute(v:val, "\r$", "", "")')
    endif
    let l:lines[0] = l:before . l:lines[0]
    let l:lines[-1] .= l:after
    call s:ReplaceIn(a:buffer, l:first, l:last, l:lines)
    let l:count = len(getbufline(a:buffer, 1, '$'))
    let l:top = l:first
  endfor
  if l:top > 0 && a:buffer == bufnr('')
    call cursor(l:top, 1)
  endif
endfunction

" --------------------------------------------------------------- the filter: `rewrite ACTION`

" The lines of the paragraph at the cursor, or [0, 0] on a blank line.
function! s:Paragraph() abort
  if getline('.') =~# '^\s*$'
    return [0, 0]
  endif
  let l:first = search('^\s*$', 'bnW') + 1
  let l:after = search('^\s*$', 'nW')
  return [l:first, l:after ? l:after - 1 : line('$')]
endfunction

" Rewrite lines first..last with `rewrite ACTION`. The lines go in on stdin and come back on
" stdout; stderr goes to a file of its own, so no message can land in the text. The lines
" are replaced only when rewrite succeeds (exit code 0) with some text, in one undo step;
" otherwise they stay as they are and rewrite's message is shown.
function! rewrite#Filter(action, first, last) abort
  if a:first < 1
    call s:Say('rewrite: no text here (a blank line)')
    return 0
  endif
  let l:lines = getline(a:first, a:last)
  let l:errors = tempname()
  let l:command = s:Cli() . ' ' . shellescape(a:action) . ' 2>' . shellescape(l:errors)
  redraw
  echo 'rewrite: ' . a:action . '...'
  " The empty item ends the input with a newline, as a `:!` filter sends it.
  try
    let l:output = systemlist(l:command, l:lines + [''])
    let l:status = v:shell_error
  catch /^Vim:Interrupt$/  " Ctrl-C: rewrite stopped too
    call delete(l:errors)
    call s:Say('rewrite: interrupted; the text is unchanged')
    return 0
  endtry
  let l:messages = filereadable(l:errors) ? readfile(l:errors) : []
  call delete(l:errors)
  call filter(l:messages, 'v:val !~# "^\\s*$"')
  if l:status != 0 || empty(l:output)
    let l:why = empty(l:messages)
          \ ? (l:status == 0 ? 'the rewrite came back empty' : 'failed (exit code ' . l:status . ')')
          \ : substitute(l:messages[-1], '^rewrite: ', '', '')
    call s:Say('rewrite: ' . l:why . '; the text is unchanged')
    return 0
  endif
  if l:output != l:lines
    call s:ReplaceIn(bufnr(''), a:first, a:last, l:output)
    call cursor(a:first, 1)
  endif
  redraw
  echo ''
  if !empty(l:messages)  " a warning (a misspelt setting, ...) from a rewrite that worked
    call s:Say(l:messages[-1])
  endif
  return 1
endfunction

" Replace lines first..last of `buffer` with `lines` (at least one), as one change.
function! s:ReplaceIn(buffer, first, last, lines) abort
  let l:old = a:last - a:first + 1
  let l:new = len(a:lines)
  call setbufline(a:buffer, a:first, a:lines[: min([l:old, l:new]) - 1])
  if l:new > l:old
    call appendbufline(a:buffer, a:last, a:lines[l:old :])
  elseif l:new < l:old
    call deletebufline(a:buffer, a:first + l:new, a:last)
  endif
endfunction

" The actions `rewrite actions` lists (the name first on each line), or [] after a message.
function! rewrite#Actions() abort
  let l:errors = tempname()
  let l:lines = systemlist(s:Cli() . ' actions 2>' . shellescape(l:errors))
  let l:status = v:shell_error
  let l:messages = filereadable(l:errors) ? readfile(l:errors) : []
  call delete(l:errors)
  if l:status != 0
    call s:Say(empty(l:messages) ? 'rewrite actions: exit code ' . l:status : l:messages[-1])
    return []
  endif
  return filter(l:lines, 'v:val =~# "\\S"')
endfunction

" Ask which action, from `rewrite actions`; '' when cancelled.
function! rewrite#AskAction() abort
  let l:actions = rewrite#Actions()
  if empty(l:actions)
    return ''
  endif
  let l:choices = ['Rewrite with:']
  for l:index in range(len(l:actions))
    call add(l:choices, printf('%2d. %s', l:index + 1, l:actions[l:index]))
  endfor
  let l:chosen = inputlist(l:choices)
  redraw
  if l:chosen < 1 || l:chosen > len(l:actions)
    return ''
  endif
  return matchstr(l:actions[l:chosen - 1], '^\S\+')
endfunction

function! rewrite#Pick(first, last) abort
  if a:first < 1
    call s:Say('rewrite: no text here (a blank line)')
    return 0
  endif
  let l:action = rewrite#AskAction()
  return empty(l:action) ? 0 : rewrite#Filter(l:action, a:first, a:last)
endfunction

function! rewrite#FilterParagraph(action) abort
  let [l:first, l:last] = s:Paragraph()
  return rewrite#Filter(a:action, l:first, l:last)
endfunction

function! rewrite#PickParagraph() abort
  let [l:first, l:last] = s:Paragraph()
  return rewrite#Pick(l:first, l:last)
endfunction

function! rewrite#Complete(lead, line, position) abort
  let l:names = map(rewrite#Actions(), 'matchstr(v:val, "^\\S\\+")')
  return filter(l:names, 'stridx(v:val, a:lead) == 0')
endfunction

" :[range]Rewrite [action]   the lines (default: the cursor's) with the action, or ask which.
command! -range -nargs=? -complete=customlist,rewrite#Complete Rewrite
      \ if empty(<q-args>) | call rewrite#Pick(<line1>, <line2>)
      \ | else | call rewrite#Filter(<q-args>, <line1>, <line2>) | endif

" ---------------------------------------------------------------------------------- keys

nnoremap <silent> <Plug>(rewrite-menu) :<C-U>call rewrite#MenuParagraph()<CR>
xnoremap <silent> <Plug>(rewrite-menu) :<C-U>call rewrite#MenuSelection()<CR>
nnoremap <silent> <Plug>(rewrite-fix)
      \ :<C-U>call rewrite#FilterParagraph(get(g:, 'rewrite_action', 'fix'))<CR>
xnoremap <silent> <Plug>(rewrite-fix)
      \ :<C-U>call rewrite#Filter(get(g:, 'rewrite_action', 'fix'), line("'<"), line("'>"))<CR>
nnoremap <silent> <Plug>(rewrite-pick) :<C-U>call rewrite#PickParagraph()<CR>
xnoremap <silent> <Plug>(rewrite-pick) :<C-U>call rewrite#Pick(line("'<"), line("'>"))<CR>

function! s:Map(key, plug) abort
  if !empty(a:key)
    execute 'nmap ' . a:key . ' ' . a:plug
    execute 'xmap ' . a:key . ' ' . a:plug
  endif
endfunction

if !get(g:, 'rewrite_no_keys', 0)
  call s:Map(get(g:, 'rewrite_menu_key', '<Leader>rr'), '<Plug>(rewrite-menu)')
  call s:Map(get(g:, 'rewrite_fix_key', '<Leader>rf'), '<Plug>(rewrite-fix)')
  call s:Map(get(g:, 'rewrite_pick_key', '<Leader>ra'), '<Plug>(rewrite-pick)')
endif

let &cpo = s:save_cpo
unlet s:save_cpo
