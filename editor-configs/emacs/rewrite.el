;;; rewrite.el --- Rewrite text with rewrite-lsp -*- lexical-binding: t; -*-

;;; Commentary:

;; Rewrite the region (or the paragraph at point) with a local model, through
;; the code actions of the rewrite language server, rewrite-lsp, with eglot or
;; lsp-mode.  See README.md beside this file.
;;
;; Install: copy to ~/.emacs.d/lisp/rewrite.el and add to your init file
;;
;;   (add-to-list 'load-path "~/.emacs.d/lisp")
;;   (require 'rewrite)
;;
;; then M-x eglot (or M-x lsp) in a Markdown, Org or text buffer.  Keys, in
;; buffers with a language server:
;;
;;   C-c r r   a menu of every rewrite ("Rewrite: fix spelling and grammar")
;;   C-c r f   fix spelling and grammar at once
;;
;; With `rewrite-lsp-preview' on, a rewrite is first shown in the window
;; *rewrite preview*, word by word, and replaces the text only when you
;; accept it there:
;;
;;   a, C-c C-c       accept: replace the text (one undo step)
;;   r, q, C-c C-k    reject: keep the text
;;   n                the next candidate (another wording)
;;
;; and from the document: C-c r a accept, C-c r k reject, C-c r n next.
;;
;; Set the options below before the `require'.

;;; Code:

(require 'cl-lib)
(require 'url-util)                     ; url-unhex-string

(defgroup rewrite-lsp nil
  "Rewrite text with a local model through the rewrite language server."
  :group 'tools
  :prefix "rewrite-lsp-")

(defcustom rewrite-lsp-command '("rewrite-lsp")
  "The command that starts the server: a list of program and arguments.
For example (\"/path/to/venv/bin/python\" \"-m\" \"rewrite_lsp\") when
rewrite-lsp is not on `exec-path'.  Read each time a server starts."
  :type '(repeat string))

(defcustom rewrite-lsp-settings nil
  "Rewrite's settings (the keys of its config file), as a plist.
Sent as initializationOptions; they override the config file.  Example:
  (:model \"qwen2.5:3b\" :lsp (:prefetch \"fix\"))
Write false as :json-false.  Takes effect when the server (re)starts."
  :type '(plist :key-type symbol))

(defcustom rewrite-lsp-modes '(markdown-mode gfm-mode org-mode rst-mode)
  "Major modes (and modes derived from them) where eglot starts rewrite-lsp.
Eglot runs one server per buffer: in these modes rewrite-lsp takes the
place of any other server eglot knows for them (marksman for Markdown).
Set before loading this file."
  :type '(repeat symbol))

(defcustom rewrite-lsp-plain-text t
  "Non-nil: eglot also starts rewrite-lsp in `text-mode' buffers.
Magit's commit messages are in `text-mode' too.  This entry comes last in
`eglot-server-programs', so modes derived from `text-mode' that have a
server of their own (YAML, HTML, TeX) keep it.  Set before loading this
file."
  :type 'boolean)

(defcustom rewrite-lsp-lsp-mode-languages '("plaintext" "markdown" "org")
  "Language ids where lsp-mode starts rewrite-lsp.
See `lsp-language-id-configuration'.  Under lsp-mode rewrite-lsp runs
beside the buffer's other servers: add code languages such as \"python\"
to rewrite comments and docstrings.  Set before loading this file."
  :type '(repeat string))

(defcustom rewrite-lsp-keys t
  "Non-nil: bind keys under C-c r where a server runs.
C-c r r a menu of rewrites, C-c r f fix; and for the preview, from the
document: C-c r a accept, C-c r k reject, C-c r n the next candidate."
  :type 'boolean)

(defcustom rewrite-lsp-preview nil
  "Non-nil: show each rewrite for review before it replaces the text.
The rewrite appears, word by word, in the buffer *rewrite preview*;
there `a' accepts it, `r' rejects it, `n' shows another candidate.
Sends {\"lsp\": {\"preview\": true}} in initializationOptions.  nil
sends nothing, and leaves preview to `rewrite-lsp-settings' and the
config file (lsp: preview: true).  Takes effect when the server
starts: M-x eglot-reconnect, or M-x lsp-workspace-restart."
  :type 'boolean)

(defcustom rewrite-lsp-preview-select t
  "Non-nil: select the preview's window when a preview appears.
Its one-letter keys then work at once.  nil: the selected window stays,
and the commands `rewrite-lsp-preview-accept', `rewrite-lsp-preview-reject'
and `rewrite-lsp-preview-again' answer the preview from any buffer."
  :type 'boolean)

(defconst rewrite-lsp-kind "refactor.rewrite"
  "The code action kind of every rewrite.")

(defconst rewrite-lsp-server-command "rewrite-lsp.rewrite"
  "The LSP command every rewrite code action carries.")

(defun rewrite-lsp--get (object key)
  "KEY (a string) of OBJECT, a JSON object as a plist or a hash table."
  (if (hash-table-p object)
      (gethash key object)
    (plist-get object (intern (concat ":" key)))))

(defun rewrite-lsp--ours-p (action)
  "Non-nil when code ACTION is one of rewrite-lsp's rewrites.
Other servers use the kind refactor.rewrite too."
  (let ((command (rewrite-lsp--get action "command")))
    (and (or (hash-table-p command) (consp command))
         (equal (rewrite-lsp--get command "command")
                rewrite-lsp-server-command))))

(defun rewrite-lsp--action-name (action)
  "The rewrite action (\"fix\", \"concise\", ...) that code ACTION runs."
  (let ((arguments (rewrite-lsp--get (rewrite-lsp--get action "command")
                                     "arguments")))
    (and (sequencep arguments)
         (> (length arguments) 0)
         (rewrite-lsp--get (elt arguments 0) "action"))))

(defun rewrite-lsp--settings ()
  "What to send as initializationOptions: `rewrite-lsp-settings', or {}.
With lsp.preview on when `rewrite-lsp-preview' says so."
  (let ((settings (copy-sequence rewrite-lsp-settings)))
    (when rewrite-lsp-preview
      (setq settings
            (plist-put settings :lsp
                       (plist-put (copy-sequence (plist-get settings :lsp))
                                  :preview t))))
    (or settings (make-hash-table))))

(defun rewrite-lsp--bind-preview-keys (map)
  "Bind in MAP the keys that answer a preview from the document."
  (define-key map (kbd "C-c r a") #'rewrite-lsp-preview-accept)
  (define-key map (kbd "C-c r k") #'rewrite-lsp-preview-reject)
  (define-key map (kbd "C-c r n") #'rewrite-lsp-preview-again))

(defun rewrite-lsp--bounds ()
  "The region, or point twice: the server then takes the paragraph."
  (if (use-region-p)
      (list (region-beginning) (region-end))
    (list (point) (point))))

;;; eglot

(defvar eglot-server-programs)
(defvar eglot-mode-map)
(defvar eglot-confirm-server-initiated-edits)
(declare-function eglot-code-actions "eglot"
                  (beg &optional end action-kind interactive))
(declare-function eglot-current-server "eglot" ())
(declare-function eglot-execute-command "eglot" (server command arguments))
(declare-function eglot-execute "eglot" (server action))

(declare-function jsonrpc-async-request "jsonrpc"
                  (connection method params &rest args))

(defun rewrite-lsp--initialization-options (_server)
  "The initializationOptions for eglot: see `rewrite-lsp--settings'."
  (rewrite-lsp--settings))

(defun rewrite-lsp--with-preview (experimental)
  "The client's EXPERIMENTAL capabilities, and rewritePreview: true."
  (cond ((and (hash-table-p experimental)
              (> (hash-table-count experimental) 0))
         (let ((copy (copy-hash-table experimental)))
           (puthash "rewritePreview" t copy)
           copy))
        ((consp experimental)
         (append experimental (list :rewritePreview t)))
        (t (list :rewritePreview t))))

(defun rewrite-lsp--eglot-sender (server)
  "A function that sends eglot SERVER a preview's answer.
It takes the command, the preview's id and a function to call once the
server has answered, or nil.  Asynchronous: the next candidate may take
the model a while, and Emacs stays free meanwhile."
  (lambda (command id &optional then)
    (jsonrpc-async-request
     server :workspace/executeCommand
     (list :command command :arguments (vector (list :id id)))
     :success-fn (lambda (_result) (when then (funcall then)))
     :error-fn (lambda (error)
                 (message "Rewrite: %s failed: %s"
                          command (rewrite-lsp--get error "message"))
                 (when then (funcall then)))
     :timeout nil)))

(defun rewrite-lsp-eglot-contact (&optional _interactive)
  "The eglot contact of rewrite-lsp, for `eglot-server-programs'."
  `(rewrite-lsp-eglot-server
    ,@rewrite-lsp-command
    :initializationOptions rewrite-lsp--initialization-options))

(defun rewrite-lsp--dispatch-waiting (server)
  "Handle the messages from eglot SERVER that jsonrpc read but left waiting.
The jsonrpc of Emacs 28 stops handling a chunk of the server's output at
the reply to a synchronous request, such as eglot's executeCommand; the
messages after it, such as the rewrite, would wait for the server's next
output.  Newer jsonrpc versions handle each message from a timer."
  (dolist (process (process-list))
    (when (eq (process-get process 'jsonrpc-connection) server)
      (funcall (process-filter process) process ""))))

(defun rewrite-lsp--eglot-actions (beg end)
  "The rewrite code actions of eglot's server for BEG..END."
  (cl-remove-if-not #'rewrite-lsp--ours-p
                    (eglot-code-actions beg end rewrite-lsp-kind)))

(defun rewrite-lsp--eglot-run (server action)
  "Ask eglot SERVER to run code ACTION (a rewrite: a command, no edit)."
  (if (fboundp 'eglot-execute)
      (eglot-execute server action)     ; eglot 1.16 (Emacs 30) and later
    (let ((command (plist-get action :command)))
      (with-no-warnings
        (eglot-execute-command server
                               (intern (plist-get command :command))
                               (plist-get command :arguments))))))

(with-eval-after-load 'eglot
  ;; A class of its own for rewrite-lsp's connections, for the method below.
  ;; Through `eval': the class exists only once eglot is loaded.
  (eval '(defclass rewrite-lsp-eglot-server (eglot-lsp-server) ()
           :documentation "An eglot connection to rewrite-lsp.")
        t)

  ;; Before eglot 1.16 (Emacs 29 and older) eglot asks y-or-n-p before every
  ;; edit a server sends.  A rewrite is the edit the user asked for.
  (cl-defmethod eglot-handle-request
    ((_server rewrite-lsp-eglot-server)
     (_method (eql 'workspace/applyEdit))
     &rest _)
    (with-no-warnings
      (let ((eglot-confirm-server-initiated-edits nil))
        (cl-call-next-method))))

  ;; The rewrite may arrive together with the reply to executeCommand.
  (with-no-warnings
    (cl-defmethod eglot-execute-command :after
      ((server rewrite-lsp-eglot-server) _command _arguments)
      (rewrite-lsp--dispatch-waiting server)))

  ;; rewrite-lsp may send this client previews (rewrite/preview) instead
  ;; of edits.  It does when lsp.preview is on: see `rewrite-lsp-preview'.
  (cl-defmethod eglot-client-capabilities ((_server rewrite-lsp-eglot-server))
    (let ((capabilities (copy-sequence (cl-call-next-method))))
      (plist-put capabilities :experimental
                 (rewrite-lsp--with-preview
                  (plist-get capabilities :experimental)))))

  (cl-defmethod eglot-handle-notification
    ((server rewrite-lsp-eglot-server) (_method (eql 'rewrite/preview))
     &rest params)
    (rewrite-lsp--preview-show (rewrite-lsp--eglot-sender server) params))

  (cl-defmethod eglot-handle-notification
    ((_server rewrite-lsp-eglot-server)
     (_method (eql 'rewrite/previewEnded))
     &rest params)
    (rewrite-lsp--preview-ended params))

  (add-to-list 'eglot-server-programs
               (cons rewrite-lsp-modes #'rewrite-lsp-eglot-contact))
  (when rewrite-lsp-plain-text
    (add-to-list 'eglot-server-programs
                 '(text-mode . rewrite-lsp-eglot-contact)
                 t))
  (when rewrite-lsp-keys
    (define-key eglot-mode-map (kbd "C-c r r") #'rewrite-lsp-menu)
    (define-key eglot-mode-map (kbd "C-c r f") #'rewrite-lsp-fix)
    (rewrite-lsp--bind-preview-keys eglot-mode-map)))

;;; lsp-mode

(defvar lsp-mode)
(defvar lsp-mode-map)
(declare-function lsp-register-client "lsp-mode" (client))
(declare-function make-lsp-client "lsp-mode" (&rest slots))
(declare-function lsp-stdio-connection "lsp-mode"
                  (command &optional test-command))
(declare-function lsp-activate-on "lsp-mode" (&rest languages))
(declare-function lsp-code-actions-at-point "lsp-mode" (&optional kind))
(declare-function lsp-execute-code-action "lsp-mode" (action))
(declare-function lsp-request-async "lsp-mode"
                  (method params callback &rest args))
(declare-function lsp-find-workspace "lsp-mode" (server-id &optional file-name))
(defvar lsp--cur-workspace)

(defun rewrite-lsp--lsp-mode-execute (workspace command arguments &optional then)
  "Ask lsp-mode's WORKSPACE to run COMMAND with ARGUMENTS; then call THEN.
Asynchronously: lsp-mode's filter drops the messages that arrive with the
reply to a request it waits for (such as `lsp-execute-code-action's), and
the rewrite or its preview may be among them."
  (let ((lsp--cur-workspace workspace)) ; rewrite-lsp only, not the others
    (lsp-request-async "workspace/executeCommand"
                       (list :command command :arguments arguments)
                       (lambda (_result) (when then (funcall then)))
                       :mode 'detached
                       :error-handler
                       (lambda (error)
                         (message "Rewrite: %s failed: %s"
                                  command (rewrite-lsp--get error "message"))
                         (when then (funcall then))))))

(defun rewrite-lsp--lsp-mode-run (action)
  "Run code ACTION, a rewrite, through lsp-mode."
  (let ((command (rewrite-lsp--get action "command"))
        (workspace (lsp-find-workspace 'rewrite (buffer-file-name))))
    (if (and workspace (not (rewrite-lsp--get action "edit")))
        (rewrite-lsp--lsp-mode-execute workspace
                                       (rewrite-lsp--get command "command")
                                       (rewrite-lsp--get command "arguments"))
      (lsp-execute-code-action action))))

(defun rewrite-lsp--lsp-mode-sender (workspace)
  "A function that sends lsp-mode's WORKSPACE a preview's answer.
See `rewrite-lsp--eglot-sender'."
  (lambda (command id &optional then)
    (rewrite-lsp--lsp-mode-execute workspace command (vector (list :id id))
                                   then)))

(defun rewrite-lsp--lsp-mode-handlers ()
  "lsp-mode's handlers of rewrite-lsp's own notifications."
  (let ((handlers (make-hash-table :test 'equal)))
    (puthash "rewrite/preview"
             (lambda (workspace params)
               (rewrite-lsp--preview-show
                (rewrite-lsp--lsp-mode-sender workspace) params))
             handlers)
    (puthash "rewrite/previewEnded"
             (lambda (_workspace params) (rewrite-lsp--preview-ended params))
             handlers)
    handlers))

(defun rewrite-lsp--lsp-mode-actions ()
  "The rewrite code actions of lsp-mode's servers at the region or point."
  (cl-remove-if-not #'rewrite-lsp--ours-p
                    (append (lsp-code-actions-at-point rewrite-lsp-kind) nil)))

(with-eval-after-load 'lsp-mode
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection (lambda () rewrite-lsp-command))
    :activation-fn (apply #'lsp-activate-on rewrite-lsp-lsp-mode-languages)
    :initialization-options #'rewrite-lsp--settings
    :custom-capabilities '((experimental . ((rewritePreview . t))))
    :notification-handlers (rewrite-lsp--lsp-mode-handlers)
    :server-id 'rewrite
    :add-on? t))                        ; beside the buffer's other servers
  (when rewrite-lsp-keys
    (define-key lsp-mode-map (kbd "C-c r r") #'rewrite-lsp-menu)
    (define-key lsp-mode-map (kbd "C-c r f") #'rewrite-lsp-fix)
    (rewrite-lsp--bind-preview-keys lsp-mode-map)))

;;; Commands

(defun rewrite-lsp--actions (beg end)
  "The eglot server (nil for lsp-mode) and the rewrites for BEG..END."
  (let ((server (and (fboundp 'eglot-current-server) (eglot-current-server))))
    (cond (server (cons server (rewrite-lsp--eglot-actions beg end)))
          ((bound-and-true-p lsp-mode)
           (cons nil (rewrite-lsp--lsp-mode-actions)))
          (t (user-error "Rewrite: no language server here; try M-x eglot")))))

(defun rewrite-lsp--run (server action)
  "Run code ACTION through eglot SERVER, or lsp-mode when SERVER is nil.
The region is done with: it goes, so that \[undo] after the rewrite
undoes all of it, not only what lies in the old region."
  (if server
      (rewrite-lsp--eglot-run server action)
    (rewrite-lsp--lsp-mode-run action))
  (setq deactivate-mark t))

;;;###autoload
(defun rewrite-lsp-menu (beg end)
  "Choose a rewrite of the region, or of the paragraph at point.
BEG and END are the region, or both point."
  (interactive (rewrite-lsp--bounds))
  (pcase-let* ((`(,server . ,actions) (rewrite-lsp--actions beg end))
               (titles (mapcar (lambda (a)
                                 (cons (rewrite-lsp--get a "title") a))
                               actions)))
    (unless titles
      (user-error "Rewrite: nothing to rewrite here"))
    (let ((chosen (completing-read "Rewrite: " titles nil t)))
      (rewrite-lsp--run server (cdr (assoc chosen titles))))))

;;;###autoload
(defun rewrite-lsp-run (name beg end)
  "Run the rewrite action NAME (\"fix\", \"concise\", ...) on BEG..END.
Interactively, on the region, or on the paragraph at point."
  (interactive (cons (read-string "Rewrite action: " nil nil "fix")
                     (rewrite-lsp--bounds)))
  (pcase-let ((`(,server . ,actions) (rewrite-lsp--actions beg end)))
    (let ((action (cl-find name actions
                           :key #'rewrite-lsp--action-name :test #'equal)))
      (unless action
        (user-error "Rewrite: no action `%s' here" name))
      (rewrite-lsp--run server action))))

;;;###autoload
(defun rewrite-lsp-fix (beg end)
  "Fix spelling and grammar in BEG..END at once.
Interactively, in the region, or in the paragraph at point."
  (interactive (rewrite-lsp--bounds))
  (rewrite-lsp-run "fix" beg end))

;;; Preview

;; With lsp.preview on, rewrite-lsp sends this client a notification
;; rewrite/preview (id, uri, range, action, original, replacement, the
;; candidate's number and how many are known) instead of an edit.  The
;; window *rewrite preview* shows it; the user's answer goes back as one of
;; the commands below, with the id.  A preview ends with rewrite/previewEnded
;; (accepted, rejected, or the document changed).  One preview at a time:
;; a new one takes the window, and the one it replaces is rejected.

(defconst rewrite-lsp-preview-buffer "*rewrite preview*"
  "The name of the buffer that shows a preview.")

(defconst rewrite-lsp--accept "rewrite-lsp.accept")
(defconst rewrite-lsp--reject "rewrite-lsp.reject")
(defconst rewrite-lsp--again "rewrite-lsp.again")

(defface rewrite-lsp-preview-removed
  '((((class color) (min-colors 88) (background light))
     :foreground "#a60000" :background "#ffe0e0" :strike-through t)
    (((class color) (min-colors 88) (background dark))
     :foreground "#ffb0b0" :background "#4f1919" :strike-through t)
    (((class color)) :foreground "red" :strike-through t)
    (t :strike-through t))
  "Words of the text that a previewed rewrite removes.")

(defface rewrite-lsp-preview-added
  '((((class color) (min-colors 88) (background light))
     :foreground "#005e00" :background "#dcf5dc")
    (((class color) (min-colors 88) (background dark))
     :foreground "#b0f0b0" :background "#173f1a")
    (((class color)) :foreground "green")
    (t :underline t))
  "Words that a previewed rewrite adds.")

(defface rewrite-lsp-preview-region
  '((t :inherit secondary-selection))
  "The text that a preview would replace, in its own buffer.")

(defvar rewrite-lsp--preview nil
  "The preview shown, a plist, or nil.
:id, :params (the notification's), :send (see `rewrite-lsp--eglot-sender'),
:overlay (on the text it would replace), :origin (the window selected
before it), :waiting (non-nil while the next candidate is asked for).")

(defvar rewrite-lsp--preview-dropped nil
  "Ids of previews rejected because a newer one took their place.")

(defvar rewrite-lsp-preview-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map "a" #'rewrite-lsp-preview-accept)
    (define-key map (kbd "C-c C-c") #'rewrite-lsp-preview-accept)
    (define-key map "r" #'rewrite-lsp-preview-reject)
    (define-key map "q" #'rewrite-lsp-preview-reject)
    (define-key map (kbd "C-c C-k") #'rewrite-lsp-preview-reject)
    (define-key map "n" #'rewrite-lsp-preview-again)
    map)
  "Keys of the buffer *rewrite preview*.")

(define-derived-mode rewrite-lsp-preview-mode special-mode "Rewrite-Preview"
  "A rewrite, shown before it replaces the text.
Struck-through words are the text's, the others the rewrite's.
\\{rewrite-lsp-preview-mode-map}"
  (setq-local truncate-lines nil)
  (visual-line-mode 1)
  (add-hook 'kill-buffer-hook #'rewrite-lsp--preview-killed nil t))

;;;; Word difference

(defun rewrite-lsp--words (text)
  "TEXT's words: a vector of (SPACE . WORD), SPACE the whitespace before.
A word is letters and digits (with apostrophes inside: they're), or one
other character: \"store.\" is the words \"store\" and \".\"."
  (let ((start 0) words)
    (while (string-match "\\([ \t\n\r\f]*\\)\\([[:alnum:]]+\\(?:['\u2019][[:alnum:]]+\\)*\\|[^ \t\n\r\f]\\)"
                         text start)
      (push (cons (match-string 1 text) (match-string 2 text)) words)
      (setq start (match-end 0)))
    (vconcat (nreverse words))))

(defconst rewrite-lsp--diff-cells 250000
  "Above this many word pairs, a preview shows all removed, all added.")

(defun rewrite-lsp--word-diff (old new)
  "The runs that turn the words OLD into NEW (vectors of `rewrite-lsp--words').
Each run is (same I J): OLD's word I is NEW's word J; or (change
REMOVED ADDED), the indexes of OLD's words removed and NEW's added
there.  A longest common subsequence of the words."
  (let* ((n (length old)) (m (length new)) (head 0) (tail 0) runs)
    (cl-flet ((same (i j) (equal (cdr (aref old i)) (cdr (aref new j)))))
      (while (and (< head n) (< head m) (same head head))
        (cl-incf head))
      (while (and (< tail (- n head)) (< tail (- m head))
                  (same (- n tail 1) (- m tail 1)))
        (cl-incf tail))
      (let* ((rows (- n head tail)) (columns (- m head tail)) (ops nil))
        (if (> (* rows columns) rewrite-lsp--diff-cells)
            (setq ops (append (mapcar (lambda (i) (list 'removed (+ head i)))
                                      (number-sequence 0 (1- rows)))
                              (mapcar (lambda (j) (list 'added (+ head j)))
                                      (number-sequence 0 (1- columns)))))
          ;; table[i][j]: the common words of the rest of each, from i and j
          (let ((table (make-vector (1+ rows) nil)) (i 0) (j 0))
            (dotimes (row (1+ rows))
              (aset table row (make-vector (1+ columns) 0)))
            (cl-loop for i from (1- rows) downto 0 do
                     (cl-loop for j from (1- columns) downto 0 do
                              (aset (aref table i) j
                                    (if (same (+ head i) (+ head j))
                                        (1+ (aref (aref table (1+ i)) (1+ j)))
                                      (max (aref (aref table (1+ i)) j)
                                           (aref (aref table i) (1+ j)))))))
            (while (or (< i rows) (< j columns))
              (cond ((and (< i rows) (< j columns) (same (+ head i) (+ head j)))
                     (push (list 'same (+ head i) (+ head j)) ops)
                     (cl-incf i) (cl-incf j))
                    ((and (< i rows)
                          (or (= j columns)
                              (>= (aref (aref table (1+ i)) j)
                                  (aref (aref table i) (1+ j)))))
                     (push (list 'removed (+ head i)) ops)
                     (cl-incf i))
                    (t (push (list 'added (+ head j)) ops)
                       (cl-incf j))))
            (setq ops (nreverse ops))))
        (dotimes (i head)
          (push (list 'same i i) runs))
        ;; Between two common words: the removed words, then the added.
        (let (removed added)
          (dolist (op (append ops (list nil)))
            (if (memq (car op) '(removed added))
                (if (eq (car op) 'removed)
                    (push (cadr op) removed)
                  (push (cadr op) added))
              (when (or removed added)
                (push (list 'change (nreverse removed) (nreverse added)) runs)
                (setq removed nil added nil))
              (when op
                (push op runs)))))
        (dotimes (k tail)
          (push (list 'same (+ (- n tail) k) (+ (- m tail) k)) runs))
        (nreverse runs)))))

(defun rewrite-lsp--preview-markers-p ()
  "Non-nil where faces alone cannot tell removed words from added ones."
  (not (or (display-graphic-p) (display-color-p))))

(defun rewrite-lsp--insert-diff (original replacement)
  "Insert the words of ORIGINAL and REPLACEMENT, their differences marked."
  (let* ((old (rewrite-lsp--words original))
         (new (rewrite-lsp--words replacement))
         (markers (rewrite-lsp--preview-markers-p)))
    (dolist (run (rewrite-lsp--word-diff old new))
      (pcase run
        (`(same ,_ ,j) (insert (car (aref new j)) (cdr (aref new j))))
        (`(change ,removed ,added)
         (insert (car (if added (aref new (car added)) (aref old (car removed)))))
         (when removed
           (rewrite-lsp--insert-run old removed 'rewrite-lsp-preview-removed
                                    (and markers "[-") (and markers "-]")))
         (when (and removed added)
           (insert " "))
         (when added
           (rewrite-lsp--insert-run new added 'rewrite-lsp-preview-added
                                    (and markers "{+") (and markers "+}"))))))))

(defun rewrite-lsp--insert-run (words indexes face open close)
  "Insert WORDS at INDEXES with FACE, between OPEN and CLOSE.
The whitespace before the first of them is left out."
  (let ((text (mapconcat (lambda (i) (concat (car (aref words i))
                                             (cdr (aref words i))))
                         indexes "")))
    (insert (propertize (concat open
                                (substring text (length (car (aref words (car indexes)))))
                                close)
                        'face face))))

;;;; The window

(defun rewrite-lsp--uri-buffer (uri)
  "The buffer visiting the file of URI (file://...), or nil."
  (when (and (stringp uri) (string-prefix-p "file://" uri))
    (let ((path (decode-coding-string (url-unhex-string (substring uri 7))
                                      'utf-8)))
      (when (string-match-p "\\`/[A-Za-z]:" path) ; file:///C:/...
        (setq path (substring path 1)))
      (find-buffer-visiting path))))

(defun rewrite-lsp--preview-overlay (buffer params)
  "An overlay on the text in BUFFER that the preview PARAMS would replace.
nil when that text is not at the start of the range any more."
  (let* ((start (rewrite-lsp--get (rewrite-lsp--get params "range") "start"))
         (line (and start (rewrite-lsp--get start "line")))
         (original (rewrite-lsp--get params "original")))
    (when (and (buffer-live-p buffer) (natnump line) (stringp original)
               (> (length original) 0))
      (with-current-buffer buffer
        (save-excursion
          (save-restriction
            (widen)
            (goto-char (point-min))
            (when (= 0 (forward-line line))
              (let ((end-of-line (line-end-position))
                    (case-fold-search nil))
                (when (and (search-forward original nil t)
                           (<= (match-beginning 0) end-of-line))
                  (let ((overlay (make-overlay (match-beginning 0)
                                               (match-end 0))))
                    (overlay-put overlay 'face 'rewrite-lsp-preview-region)
                    overlay))))))))))

(defun rewrite-lsp--preview-render ()
  "Fill the buffer *rewrite preview* with the preview shown."
  (let* ((preview rewrite-lsp--preview)
         (params (plist-get preview :params))
         (action (rewrite-lsp--get params "action"))
         (candidate (rewrite-lsp--get params "candidate"))
         (candidates (rewrite-lsp--get params "candidates"))
         (source (rewrite-lsp--uri-buffer (rewrite-lsp--get params "uri"))))
    (with-current-buffer (get-buffer-create rewrite-lsp-preview-buffer)
      (unless (derived-mode-p 'rewrite-lsp-preview-mode)
        (rewrite-lsp-preview-mode))
      (let ((inhibit-read-only t))
        (erase-buffer)
        (insert (propertize
                 (concat (format "Rewrite: %s" action)
                         (if (and (numberp candidates) (> candidates 1))
                             (format ", candidate %s of %s" candidate candidates)
                           (format ", candidate %s" candidate))
                         (if source (format " (%s)" (buffer-name source)) ""))
                 'face 'bold)
                "\n\n")
        (rewrite-lsp--insert-diff (rewrite-lsp--get params "original")
                                  (rewrite-lsp--get params "replacement"))
        (insert "\n\n")
        (when (plist-get preview :waiting)
          (insert "Asking for another candidate...\n"))
        (insert (propertize "a or C-c C-c: accept   r, q or C-c C-k: reject   \
n: another candidate"
                            'face 'shadow)
                "\n")
        (goto-char (point-min))
        (dolist (window (get-buffer-window-list nil nil t))
          (rewrite-lsp--preview-fit window))))))

(defun rewrite-lsp--preview-fit (window)
  "Fit WINDOW to the preview, when it is a side window (ours)."
  (when (window-parameter window 'window-side)
    (fit-window-to-buffer window (max window-min-height
                                      (/ (frame-height) 2)))))

(defun rewrite-lsp--preview-display ()
  "Show the buffer *rewrite preview*; select it if the options say so."
  (let ((window (display-buffer
                 (get-buffer rewrite-lsp-preview-buffer)
                 '((display-buffer-reuse-window display-buffer-in-side-window)
                   (side . bottom)
                   (slot . 0)
                   (window-height . fit-window-to-buffer)
                   (preserve-size . (nil . t))))))
    (when (window-live-p window)
      (rewrite-lsp--preview-fit window)
      (when (and rewrite-lsp-preview-select (not (active-minibuffer-window)))
        (select-window window)))))

(defun rewrite-lsp--preview-forget ()
  "Forget the preview shown (the window stays); it, or nil."
  (let ((preview rewrite-lsp--preview))
    (setq rewrite-lsp--preview nil)
    (when (overlayp (plist-get preview :overlay))
      (delete-overlay (plist-get preview :overlay)))
    preview))

(defun rewrite-lsp--preview-close ()
  "Forget the preview shown and close its window; it, or nil.
The window selected before the preview is selected again, if the
preview's was."
  (let* ((preview (rewrite-lsp--preview-forget))
         (buffer (get-buffer rewrite-lsp-preview-buffer))
         (origin (plist-get preview :origin))
         (was-selected (and buffer (eq (window-buffer) buffer))))
    (when buffer
      (dolist (window (get-buffer-window-list buffer nil t))
        (quit-restore-window window 'bury)))
    (when (and was-selected (window-live-p origin))
      (select-window origin))
    preview))

(defun rewrite-lsp--preview-show (send params)
  "Show the preview PARAMS (a rewrite/preview notification's).
SEND sends the server the answer: see `rewrite-lsp--eglot-sender'."
  (condition-case error      ; in a process filter: an error would lose messages
      (save-current-buffer     ; which `select-window' would change
        (let* ((id (rewrite-lsp--get params "id"))
               (old rewrite-lsp--preview)
               (again (and old (equal id (plist-get old :id)))))
          (cond (again
                 (setq rewrite-lsp--preview
                       (plist-put (plist-put (copy-sequence old) :params params)
                                  :waiting nil)))
                (t
                 (when old                ; replaced by the new one
                   (rewrite-lsp--preview-forget)
                   (push (plist-get old :id) rewrite-lsp--preview-dropped)
                   (funcall (plist-get old :send) rewrite-lsp--reject
                            (plist-get old :id)))
                 (setq rewrite-lsp--preview
                       (list :id id :params params :send send
                             :overlay (rewrite-lsp--preview-overlay
                                       (rewrite-lsp--uri-buffer
                                        (rewrite-lsp--get params "uri"))
                                       params)
                             :origin (if old (plist-get old :origin)
                                       (selected-window))))))
          (rewrite-lsp--preview-render)
          (rewrite-lsp--preview-display)))
    (error (message "Rewrite: cannot show the preview: %s"
                    (error-message-string error)))))

(defun rewrite-lsp--preview-ended (params)
  "A preview ended (PARAMS of rewrite/previewEnded): close it, say why."
  (condition-case error
      (let ((id (rewrite-lsp--get params "id"))
            (reason (rewrite-lsp--get params "reason")))
        (when (equal id (plist-get rewrite-lsp--preview :id))
          (save-current-buffer (rewrite-lsp--preview-close)))
        (if (member id rewrite-lsp--preview-dropped)
            (setq rewrite-lsp--preview-dropped
                  (delete id rewrite-lsp--preview-dropped))
          (unless (equal reason "accepted")
            (message "Rewrite: the preview ended (%s); the text is unchanged"
                     reason))))
    (error (message "Rewrite: %s" (error-message-string error)))))

(defun rewrite-lsp--preview-killed ()
  "The buffer *rewrite preview* is killed: reject the preview it showed."
  (let ((preview (rewrite-lsp--preview-forget)))
    (when preview
      (funcall (plist-get preview :send) rewrite-lsp--reject
               (plist-get preview :id)))))

(defun rewrite-lsp--preview-or-lose ()
  "The preview shown, or a `user-error'."
  (or rewrite-lsp--preview
      (user-error "Rewrite: no preview to answer")))

(defun rewrite-lsp-preview-accept ()
  "Replace the text with the rewrite in the preview."
  (interactive)
  (let* ((preview (rewrite-lsp--preview-or-lose))
         (source (rewrite-lsp--uri-buffer
                  (rewrite-lsp--get (plist-get preview :params) "uri"))))
    (when source      ; an active region would make undo undo part of it
      (with-current-buffer source
        (deactivate-mark)))
    (rewrite-lsp--preview-close)
    (funcall (plist-get preview :send) rewrite-lsp--accept
             (plist-get preview :id))))

(defun rewrite-lsp-preview-reject ()
  "Keep the text: close the preview."
  (interactive)
  (let ((preview (rewrite-lsp--preview-or-lose)))
    (rewrite-lsp--preview-close)
    (funcall (plist-get preview :send) rewrite-lsp--reject
             (plist-get preview :id))))

(defun rewrite-lsp-preview-again ()
  "Show the next candidate: another wording of the same rewrite.
The server makes a new one past the last it has."
  (interactive)
  (let* ((preview (rewrite-lsp--preview-or-lose))
         (id (plist-get preview :id)))
    (setq rewrite-lsp--preview (plist-put preview :waiting t))
    (rewrite-lsp--preview-render)
    (funcall (plist-get preview :send) rewrite-lsp--again id
             (lambda ()                 ; no new candidate came
               (when (and (equal id (plist-get rewrite-lsp--preview :id))
                          (plist-get rewrite-lsp--preview :waiting))
                 (setq rewrite-lsp--preview
                       (plist-put rewrite-lsp--preview :waiting nil))
                 (rewrite-lsp--preview-render))))))

(provide 'rewrite)
;;; rewrite.el ends here
