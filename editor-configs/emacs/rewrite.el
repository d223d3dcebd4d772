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
;; Set the options below before the `require'.

;;; Code:

(require 'cl-lib)

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
  "Non-nil: bind C-c r r (menu) and C-c r f (fix) where a server runs."
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

(defun rewrite-lsp--initialization-options (_server)
  "The initializationOptions for eglot: `rewrite-lsp-settings', or {}."
  (or rewrite-lsp-settings (make-hash-table)))

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

  (add-to-list 'eglot-server-programs
               (cons rewrite-lsp-modes #'rewrite-lsp-eglot-contact))
  (when rewrite-lsp-plain-text
    (add-to-list 'eglot-server-programs
                 '(text-mode . rewrite-lsp-eglot-contact)
                 t))
  (when rewrite-lsp-keys
    (define-key eglot-mode-map (kbd "C-c r r") #'rewrite-lsp-menu)
    (define-key eglot-mode-map (kbd "C-c r f") #'rewrite-lsp-fix)))

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

(defun rewrite-lsp--lsp-mode-actions ()
  "The rewrite code actions of lsp-mode's servers at the region or point."
  (cl-remove-if-not #'rewrite-lsp--ours-p
                    (append (lsp-code-actions-at-point rewrite-lsp-kind) nil)))

(with-eval-after-load 'lsp-mode
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection (lambda () rewrite-lsp-command))
    :activation-fn (apply #'lsp-activate-on rewrite-lsp-lsp-mode-languages)
    :initialization-options (lambda ()
                              (or rewrite-lsp-settings (make-hash-table)))
    :server-id 'rewrite
    :add-on? t))                        ; beside the buffer's other servers
  (when rewrite-lsp-keys
    (define-key lsp-mode-map (kbd "C-c r r") #'rewrite-lsp-menu)
    (define-key lsp-mode-map (kbd "C-c r f") #'rewrite-lsp-fix)))

;;; Commands

(defun rewrite-lsp--actions (beg end)
  "The eglot server (nil for lsp-mode) and the rewrites for BEG..END."
  (let ((server (and (fboundp 'eglot-current-server) (eglot-current-server))))
    (cond (server (cons server (rewrite-lsp--eglot-actions beg end)))
          ((bound-and-true-p lsp-mode)
           (cons nil (rewrite-lsp--lsp-mode-actions)))
          (t (user-error "Rewrite: no language server here; try M-x eglot")))))

(defun rewrite-lsp--run (server action)
  "Run code ACTION through eglot SERVER, or lsp-mode when SERVER is nil."
  (if server
      (rewrite-lsp--eglot-run server action)
    (lsp-execute-code-action action)))

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

(provide 'rewrite)
;;; rewrite.el ends here
