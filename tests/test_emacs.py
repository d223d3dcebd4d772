"""A real editor: Emacs in batch mode loads the shipped editor-configs/emacs/rewrite.el,
starts the language server through eglot or lsp-mode, runs the rewrite actions the way its
key bindings do, and applies the server's workspace/applyEdit to the buffer; with preview
on, it shows the server's rewrite/preview and answers it with the preview window's keys.

Emacs 29 and later have eglot built in; on Emacs 28 (Debian 12) it is the `elpa-eglot`
package. Emacs runs with `--batch --no-site-file`: like `-Q`, but the site-lisp folders stay
on the load path, where the distribution installs eglot. The Ollama stand-in plays the model.
An Emacs Lisp script drives the editor and writes what happened to a JSON file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.standin import StandIn, unused_url

CONFIG = Path(__file__).resolve().parent.parent / "editor-configs" / "emacs" / "rewrite.el"
DOCUMENT = "Notes\n\ntheir going too the store\n\nBye.\n"
REPLY = "They're going to the store."
REWRITTEN = "Notes\n\nThey're going to the store.\n\nBye.\n"
WORDINGS = {  # the stand-in's answer for each seed: rephrasings a guard lets through
    None: "They are going to the store.",
    1: "They are going to the store.",
    2: "They're heading to the store.",
    3: "They are on their way to the store.",
}
KEYS_LINE = "a or C-c C-c: accept   r, q or C-c C-k: reject   n: another candidate"
EMACS = shutil.which("emacs")

pytestmark = pytest.mark.skipif(
    EMACS is None, reason="Emacs is not installed (Debian: apt-get install emacs-nox)"
)

# Reads REWRITE_TEST_* from the environment: CLIENT is eglot or lsp-mode, HOW one of the cases
# in `rewrite-test-ask'.
SCRIPT = r""";;; -*- lexical-binding: t; -*-
(require 'json)
(require 'seq)
(require 'package)
(package-activate-all)  ; as a normal start-up does: the packages' autoloads

(defvar rewrite-test-out nil "What happened, an alist written as JSON.")
(defvar rewrite-test-client (getenv "REWRITE_TEST_CLIENT"))
(defvar rewrite-test-how (getenv "REWRITE_TEST_HOW"))
(defvar rewrite-test-buffer nil)
(defvar rewrite-test-ready nil "Non-nil once lsp-mode's server is initialized.")
(defvar rewrite-test-message nil "The server's error message, as shown.")
(defvar rewrite-test-said nil "The messages about previews, as shown.")
(setq rewrite-lsp-command (list (getenv "REWRITE_TEST_PYTHON") "-m" "rewrite_lsp"))
(setq rewrite-lsp-preview (equal (getenv "REWRITE_TEST_PREVIEW") "1"))
(setq rewrite-lsp-settings
      '(:actions (:shout (:description "Shout it"
                          :instruction "Rewrite the text in capital letters."))))
(transient-mark-mode 1)

(defun rewrite-test-note (key value)
  (push (cons key value) rewrite-test-out))

(defun rewrite-test-logs ()
  (mapconcat (lambda (buffer) (with-current-buffer buffer (buffer-string)))
             (seq-filter (lambda (buffer)
                           (string-match-p "events\\*\\|lsp-log" (buffer-name buffer)))
                         (buffer-list))
             "\n"))

(defun rewrite-test-finish (code)
  (when rewrite-test-buffer
    (rewrite-test-note 'text (with-current-buffer rewrite-test-buffer (buffer-string))))
  (rewrite-test-note 'message rewrite-test-message)
  (rewrite-test-note 'log (rewrite-test-logs))
  (with-temp-file (getenv "REWRITE_TEST_RESULT")
    (insert (json-encode rewrite-test-out)))
  (kill-emacs code))

(defun rewrite-test-fail (why)
  (rewrite-test-note 'failure why)
  (rewrite-test-finish 1))

(defun rewrite-test-wait (seconds done)
  "Let the server talk until DONE returns non-nil or SECONDS pass; DONE's value."
  (let ((deadline (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall done))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    value))

(advice-add 'message :filter-return
            (lambda (shown)
              (when (and (stringp shown) (string-match-p "Rewrite failed" shown))
                (setq rewrite-test-message shown))
              (when (and (stringp shown) (string-match-p "\\`Rewrite: .*preview" shown))
                (push shown rewrite-test-said))
              shown))

(pcase rewrite-test-client
  ("eglot"
   (require 'eglot)
   (setq eglot-events-buffer-size 2000000)
   (setq rewrite-test-buffer (find-file (getenv "REWRITE_TEST_DOCUMENT")))
   (call-interactively #'eglot)
   (unless (rewrite-test-wait 20 (lambda () (eglot-current-server)))
     (rewrite-test-fail "eglot never connected"))
   (rewrite-test-note 'class (eieio-object-class (eglot-current-server))))
  ("lsp-mode"
   (require 'lsp-mode)
   (setq lsp-log-io t
         lsp-enable-snippet nil)
   (add-hook 'lsp-after-initialize-hook (lambda () (setq rewrite-test-ready t)))
   (setq rewrite-test-buffer (find-file (getenv "REWRITE_TEST_DOCUMENT")))
   (lsp-workspace-folders-add default-directory)
   (lsp)
   (unless (rewrite-test-wait 20 (lambda () rewrite-test-ready))
     (rewrite-test-fail "lsp-mode never initialized the server")))
  (_ (rewrite-test-fail (format "unknown client %s" rewrite-test-client))))

(rewrite-test-note 'mode major-mode)
(rewrite-test-note 'keys (list (key-binding (kbd "C-c r r")) (key-binding (kbd "C-c r f"))))

(defun rewrite-test-select-line (line)
  (goto-char (point-min))
  (forward-line (1- line))
  (push-mark (line-end-position) t t))

(defun rewrite-test-pick-fix (prompt collection &rest _)
  "Stands in for `completing-read': notes the titles, picks the fix."
  (let ((titles (all-completions "" collection)))
    (rewrite-test-note 'prompt prompt)
    (rewrite-test-note 'titles (vconcat titles))
    (seq-find (lambda (title) (string-match-p "fix spelling" title)) titles)))

(defvar rewrite-test-asked nil "The questions `completing-read' was asked.")

(defun rewrite-test-pick-candidates (prompt collection &rest _)
  "Stands in for `completing-read': in the menu, the rephrasing with three
candidates; then, asked which candidate (window/showMessageRequest), the second."
  (let ((titles (all-completions "" collection)))
    (push (list prompt (vconcat titles)) rewrite-test-asked)
    (or (seq-find (lambda (title)
                    (or (string-match-p "other words (3 candidates)" title)
                        (string-prefix-p "2. " title)))
                  titles)
        (rewrite-test-fail (format "nothing to pick in %S" titles)))))

(defun rewrite-test-ask ()
  (pcase rewrite-test-how
    ;; plain eglot, without the commands of rewrite.el: the first fix action
    ("eglot_api"
     (let* ((actions (eglot-code-actions (point-min) (1- (point-max)) "refactor.rewrite"))
            (fix (seq-find (lambda (a)
                             (string-prefix-p "Rewrite: fix" (plist-get a :title)))
                           actions))
            (command (plist-get fix :command)))
       (rewrite-test-note 'titles (vconcat (mapcar (lambda (a) (plist-get a :title))
                                                   actions)))
       (unless fix (rewrite-test-fail "no fix action offered"))
       (if (fboundp 'eglot-execute)
           (eglot-execute (eglot-current-server) fix)
         (eglot-execute-command (eglot-current-server)
                                (intern (plist-get command :command))
                                (plist-get command :arguments)))))
    ;; C-c r f on the selected line, as typed
    ("fix_keys" (rewrite-test-select-line 3) (execute-kbd-macro (kbd "C-c r f")))
    ;; C-c r f with no selection: the paragraph at point
    ("fix_point" (goto-char (point-min)) (search-forward "going")
     (execute-kbd-macro (kbd "C-c r f")))
    ;; C-c r r on the selected line, the menu answered by a stub
    ("menu_keys" (rewrite-test-select-line 3)
     (advice-add 'completing-read :override #'rewrite-test-pick-fix)
     (execute-kbd-macro (kbd "C-c r r")))
    ;; C-c r r, the rephrasing with three candidates, then the second of them
    ("candidates_menu" (rewrite-test-select-line 3)
     (advice-add 'completing-read :override #'rewrite-test-pick-candidates)
     (execute-kbd-macro (kbd "C-c r r")))
    (_ (rewrite-test-fail (format "unknown case %s" rewrite-test-how)))))

(defun rewrite-test-text ()
  (with-current-buffer rewrite-test-buffer (buffer-string)))

(defun rewrite-test-preview-window ()
  (get-buffer-window "*rewrite preview*"))

(defun rewrite-test-preview-text ()
  (let ((buffer (get-buffer "*rewrite preview*")))
    (and buffer (with-current-buffer buffer (buffer-substring-no-properties
                                             (point-min) (point-max))))))

(defun rewrite-test-faced (face)
  "The pieces of the preview's text shown with FACE."
  (with-current-buffer "*rewrite preview*"
    (let ((pieces nil) (at (point-min)))
      (while (< at (point-max))
        (let ((next (next-single-property-change at 'face nil (point-max))))
          (when (eq (get-text-property at 'face) face)
            (push (buffer-substring-no-properties at next) pieces))
          (setq at next)))
      (vconcat (nreverse pieces)))))

(defun rewrite-test-highlighted ()
  "The text of the document that the preview highlights, or nil."
  (with-current-buffer rewrite-test-buffer
    (let ((overlay (seq-find (lambda (o) (eq (overlay-get o 'face)
                                             'rewrite-lsp-preview-region))
                             (overlays-in (point-min) (point-max)))))
      (and overlay (buffer-substring-no-properties (overlay-start overlay)
                                                   (overlay-end overlay))))))

(defun rewrite-test-await-preview (candidate)
  "Wait until the preview's window shows CANDIDATE (a string)."
  (unless (rewrite-test-wait
           20 (lambda ()
                (and (rewrite-test-preview-window)
                     (string-match-p (concat "candidate " candidate)
                                     (or (rewrite-test-preview-text) "")))))
    (rewrite-test-fail (format "no preview of candidate %s in 20 s; shown: %S"
                               candidate (rewrite-test-preview-text)))))

(defun rewrite-test-press (keys)
  "Type KEYS in the preview's window."
  (let ((window (rewrite-test-preview-window)))
    (unless window (rewrite-test-fail "no preview window to type in"))
    (with-selected-window window
      (execute-kbd-macro (kbd keys)))))

(defun rewrite-test-preview ()
  "Ask for a rewrite with preview on, look at the preview, answer it."
  (let ((before (rewrite-test-text)))
    (rewrite-test-select-line 3)
    (pcase rewrite-test-how
      ((or "preview_accept" "preview_reject" "preview_edit")
       (execute-kbd-macro (kbd "C-c r f")))
      ("preview_again" (rewrite-lsp-run "rephrase" (region-beginning) (region-end)))
      ("preview_candidates"
       (advice-add 'completing-read :override #'rewrite-test-pick-candidates)
       (execute-kbd-macro (kbd "C-c r r")))
      (_ (rewrite-test-fail (format "unknown case %s" rewrite-test-how))))
    (rewrite-test-await-preview "1")
    (rewrite-test-note 'selected (eq (selected-window) (rewrite-test-preview-window)))
    (rewrite-test-note 'preview (rewrite-test-preview-text))
    (rewrite-test-note 'removed (rewrite-test-faced 'rewrite-lsp-preview-removed))
    (rewrite-test-note 'added (rewrite-test-faced 'rewrite-lsp-preview-added))
    (rewrite-test-note 'highlighted (rewrite-test-highlighted))
    (rewrite-test-note 'unchanged (equal before (rewrite-test-text)))
    (when (member rewrite-test-how '("preview_again" "preview_candidates"))
      (rewrite-test-press "n")
      (rewrite-test-await-preview "2")
      (rewrite-test-note 'preview2 (rewrite-test-preview-text))
      (rewrite-test-note 'unchanged2 (equal before (rewrite-test-text))))
    (cond
     ((equal rewrite-test-how "preview_edit")  ; typing in the document ends it
      (with-current-buffer rewrite-test-buffer
        (goto-char (point-max))
        (insert "More.")
        ;; eglot sends the change from an idle timer, and batch Emacs is never idle
        (when (equal rewrite-test-client "eglot")
          (eglot--signal-textDocument/didChange)))
      (unless (rewrite-test-wait
               20 (lambda () (seq-find (lambda (said) (string-match-p "changed" said))
                                       rewrite-test-said)))
        (rewrite-test-fail "the preview outlived the change to the document"))
      (rewrite-test-note 'window_after (and (rewrite-test-preview-window) t)))
     ((equal rewrite-test-how "preview_reject")
      (rewrite-test-press "r")
      (rewrite-test-note 'window_after (and (rewrite-test-preview-window) t))
      (unless (rewrite-test-wait
               20 (lambda () (seq-find (lambda (said) (string-match-p "rejected" said))
                                       rewrite-test-said)))
        (rewrite-test-fail "the server never ended the rejected preview")))
     (t
      (rewrite-test-press "a")
      (rewrite-test-note 'window_after (and (rewrite-test-preview-window) t))
      (unless (rewrite-test-wait 20 (lambda () (not (equal before (rewrite-test-text)))))
        (rewrite-test-fail "the accepted rewrite never arrived"))
      (rewrite-test-note 'accepted (rewrite-test-text))
      (rewrite-test-note 'region_after (with-current-buffer rewrite-test-buffer
                                         (region-active-p)))
      (with-selected-window (get-buffer-window rewrite-test-buffer)
        (execute-kbd-macro (kbd "C-/")))))  ; as typed after the rewrite
    (rewrite-test-note 'highlighted_after (rewrite-test-highlighted))
    (rewrite-test-note 'said (vconcat (reverse rewrite-test-said)))))

(if (string-prefix-p "preview_" rewrite-test-how)
    (rewrite-test-preview)
  (let ((before (buffer-string)))
    (rewrite-test-ask)
    (unless (rewrite-test-wait
             20 (lambda ()
                  (or rewrite-test-message
                      (not (equal before (with-current-buffer rewrite-test-buffer
                                           (buffer-string)))))))
      (rewrite-test-fail "neither an edit nor a message from the server in 20 s"))))
(rewrite-test-note 'asked (vconcat (mapcar #'vconcat (reverse rewrite-test-asked))))
(when (equal rewrite-test-client "eglot")
  (eglot-shutdown (with-current-buffer rewrite-test-buffer (eglot-current-server))))
(rewrite-test-finish 0)
"""


def run_emacs(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    assert EMACS is not None
    return subprocess.run(
        [EMACS, "--batch", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,  # a y-or-n-p question fails instead of waiting
        timeout=timeout,
    )


FEATURE = {"eglot": "eglot", "lsp-mode": "lsp-mode"}
MISSING = {
    "eglot": "eglot is missing: Emacs 29+ has it built in; on Emacs 28 install elpa-eglot",
    "lsp-mode": "lsp-mode is missing: install elpa-lsp-mode (or lsp-mode from MELPA)",
}
# lsp-mode used to lose the rewrite in about half of the runs: its process filter drops the
# messages that arrive with the reply to a request it waits for. rewrite.el now sends the
# rewrite's command without waiting (`rewrite-lsp--lsp-mode-execute').
CLIENTS = pytest.mark.parametrize("client", ["eglot", "lsp-mode"])


def require_client(client: str, tmp_path: Path) -> None:
    check = f"(kill-emacs (if (require '{FEATURE[client]} nil t) 0 1))"
    if run_emacs("--no-site-file", "--eval", check, cwd=tmp_path).returncode != 0:
        pytest.fail(MISSING[client])


def drive_emacs(
    tmp_path: Path,
    ollama_url: str,
    client: str,
    how: str,
    document: str = DOCUMENT,
    preview: bool = False,
) -> dict[str, Any]:
    """Run the script in Emacs; its report, or a failure that says why."""
    require_client(client, tmp_path)
    script = tmp_path / "drive.el"
    script.write_text(SCRIPT, encoding="utf-8")
    work = tmp_path / "notes"  # not under version control: the folder is the project
    work.mkdir()
    path = work / "draft.txt"
    path.write_text(document, encoding="utf-8")
    result = tmp_path / "result.json"
    env = {
        "OLLAMA_HOST": ollama_url,
        "REWRITE_TEST_PYTHON": sys.executable,
        "REWRITE_TEST_DOCUMENT": str(path),
        "REWRITE_TEST_RESULT": str(result),
        "REWRITE_TEST_CLIENT": client,
        "REWRITE_TEST_HOW": how,
        "REWRITE_TEST_PREVIEW": "1" if preview else "0",
    }
    done = run_emacs("--no-site-file", "-l", str(CONFIG), "-l", str(script), cwd=work, env=env)
    report = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}
    log = report.pop("log", "")
    assert done.returncode == 0, (
        f"emacs exited {done.returncode}\nreport: {report}\nstderr: {done.stderr[-4000:]}\n"
        f"LSP log (end):\n{log[-6000:]}"
    )
    assert report["mode"] == "text-mode"
    assert report["keys"] == ["rewrite-lsp-menu", "rewrite-lsp-fix"]
    if client == "eglot":
        assert report["class"] == "rewrite-lsp-eglot-server"
    return report


def assert_rewritten(report: dict[str, Any], standin: StandIn) -> None:
    assert report["text"] == REWRITTEN, report
    assert report["message"] is None
    sent = [
        r.body["messages"][-1]["content"]
        for r in standin.chat_requests()
        if r.body and r.body.get("messages")  # the warm-up sends none
    ]
    assert sent and all("their going too the store" in text for text in sent)
    assert all("Bye." not in text and "Notes" not in text for text in sent)


def test_rewrite_el_loads_without_eglot_or_lsp_mode(tmp_path: Path) -> None:
    done = run_emacs(
        "-Q",
        "-l",
        str(CONFIG),
        "--eval",
        "(kill-emacs (if (and (featurep 'rewrite) (commandp 'rewrite-lsp-fix)) 0 1))",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("preload", ["", "(require 'eglot) (require 'lsp-mode)"])
def test_rewrite_el_byte_compiles_without_warnings(tmp_path: Path, preload: str) -> None:
    if preload:
        require_client("eglot", tmp_path)
        require_client("lsp-mode", tmp_path)
    copy = tmp_path / "rewrite.el"
    shutil.copy(CONFIG, copy)
    done = run_emacs(
        "--no-site-file",
        "--eval",
        f"(progn {preload} (setq byte-compile-error-on-warn t))",
        "-f",
        "batch-byte-compile",
        str(copy),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rewrite.elc").is_file()
    assert "Warning" not in done.stderr, done.stderr


def test_plain_eglot_runs_the_fix_action_and_applies_the_edit(
    tmp_path: Path, standin: StandIn
) -> None:
    standin.reply = REPLY
    report = drive_emacs(tmp_path, standin.url, "eglot", "eglot_api", "their going too the store\n")
    assert report["text"] == REPLY + "\n"
    assert "Rewrite: fix spelling and grammar" in report["titles"]


@CLIENTS
def test_the_fix_key_rewrites_the_selection(tmp_path: Path, standin: StandIn, client: str) -> None:
    standin.reply = REPLY
    assert_rewritten(drive_emacs(tmp_path, standin.url, client, "fix_keys"), standin)


@CLIENTS
def test_the_fix_key_without_a_selection_rewrites_the_paragraph(
    tmp_path: Path, standin: StandIn, client: str
) -> None:
    standin.reply = REPLY
    assert_rewritten(drive_emacs(tmp_path, standin.url, client, "fix_point"), standin)


@CLIENTS
def test_the_menu_offers_the_rewrites_and_applies_the_choice(
    tmp_path: Path, standin: StandIn, client: str
) -> None:
    standin.reply = REPLY
    report = drive_emacs(tmp_path, standin.url, client, "menu_keys")
    assert_rewritten(report, standin)
    titles = report["titles"]
    assert "Rewrite: fix spelling and grammar" in titles
    assert "Rewrite: shout it" in titles  # from rewrite-lsp-settings: initializationOptions
    assert all(title.startswith("Rewrite: ") for title in titles)


@CLIENTS
def test_an_unreachable_ollama_is_reported_and_the_text_kept(tmp_path: Path, client: str) -> None:
    report = drive_emacs(tmp_path, unused_url(), client, "fix_keys")
    assert report["text"] == DOCUMENT
    assert "unchanged" in report["message"], report


# ----------------------------------------------------------------------------- preview


def by_seed(body: dict[str, Any]) -> str:
    return WORDINGS.get(body.get("options", {}).get("seed"), "They go to the store.")


def rewritten(line: str) -> str:
    return DOCUMENT.replace("their going too the store", line.rstrip("\n"))


@CLIENTS
def test_a_preview_shows_the_words_that_change_and_accept_applies_it_as_one_undo_step(
    tmp_path: Path, standin: StandIn, client: str
) -> None:
    standin.reply = REPLY
    report = drive_emacs(tmp_path, standin.url, client, "preview_accept", preview=True)
    # A preview at all: the capability and `rewrite-lsp-preview' reached the server.
    assert report["unchanged"] is True  # nothing lands before the user says yes
    assert report["selected"] is True
    # batch Emacs shows no colours: the faces come with git's word-diff markers
    assert report["preview"] == (
        "Rewrite: fix, candidate 1 (draft.txt)\n\n"
        "[-their-] {+They're+} going [-too-] {+to+} the store{+.+}\n\n" + KEYS_LINE + "\n"
    )
    assert report["removed"] == ["[-their-]", "[-too-]"]
    assert report["added"] == ["{+They're+}", "{+to+}", "{+.+}"]
    assert report["highlighted"] == "their going too the store"
    assert report["window_after"] is None and report["highlighted_after"] is None
    assert report["accepted"] == REWRITTEN
    assert report["region_after"] is None  # else C-/ would undo in the region, in part
    assert report["text"] == DOCUMENT  # one C-/ after the rewrite restores the text
    assert report["said"] == []  # "accepted" goes without saying
    assert report["message"] is None


@CLIENTS
def test_rejecting_a_preview_keeps_the_text(tmp_path: Path, standin: StandIn, client: str) -> None:
    standin.reply = REPLY
    report = drive_emacs(tmp_path, standin.url, client, "preview_reject", preview=True)
    assert report["unchanged"] is True
    assert report["window_after"] is None and report["highlighted_after"] is None
    assert report["text"] == DOCUMENT
    assert report["said"] == ["Rewrite: the preview ended (rejected); the text is unchanged"]


@CLIENTS
def test_a_change_to_the_document_ends_the_preview(
    tmp_path: Path, standin: StandIn, client: str
) -> None:
    standin.reply = REPLY
    report = drive_emacs(tmp_path, standin.url, client, "preview_edit", preview=True)
    assert report["window_after"] is None and report["highlighted_after"] is None
    assert report["text"] == DOCUMENT + "More."
    assert report["said"] == [
        "Rewrite: the preview ended (the document changed); the text is unchanged"
    ]


@pytest.mark.parametrize(
    "how",
    [
        "preview_again",  # rephrase: the second candidate is made when asked for
        "preview_candidates",  # "(3 candidates)": made together, shown one by one
    ],
)
@CLIENTS
def test_the_next_candidate_replaces_the_preview_and_accept_applies_it(
    tmp_path: Path, standin: StandIn, how: str, client: str
) -> None:
    standin.reply = by_seed
    report = drive_emacs(tmp_path, standin.url, client, how, preview=True)
    known = 3 if how == "preview_candidates" else 1  # the candidates made so far
    of = f" of {known}" if known > 1 else ""
    assert report["preview"] == (
        f"Rewrite: rephrase, candidate 1{of} (draft.txt)\n\n"
        "[-their-] {+They are+} going [-too-] {+to+} the store{+.+}\n\n" + KEYS_LINE + "\n"
    )
    of = f" of {max(known, 2)}"
    assert report["preview2"] == (  # WORDINGS[2]
        f"Rewrite: rephrase, candidate 2{of} (draft.txt)\n\n"
        "[-their going too-] {+They're heading to+} the store{+.+}\n\n" + KEYS_LINE + "\n"
    )
    assert report["unchanged"] is True and report["unchanged2"] is True
    assert report["accepted"] == rewritten(WORDINGS[2])
    assert report["region_after"] is None
    assert report["text"] == DOCUMENT
    assert report["said"] == []


@CLIENTS
def test_candidates_without_preview_are_chosen_in_the_minibuffer(
    tmp_path: Path, standin: StandIn, client: str
) -> None:
    """Both answer window/showMessageRequest with `completing-read` (stubbed here)."""
    standin.reply = by_seed
    report = drive_emacs(tmp_path, standin.url, client, "candidates_menu")
    (menu_prompt, menu), (prompt, titles) = report["asked"]
    assert menu_prompt == "Rewrite: "
    assert "Rewrite: say it in other words (3 candidates)" in menu
    assert "3 candidates. Which one?" in prompt
    assert titles == [f"{n}. {WORDINGS[n]}" for n in (1, 2, 3)]
    assert report["text"] == rewritten(WORDINGS[2])
