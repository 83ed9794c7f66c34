// A form whose confirmation depends on what was typed (how much of a stage to release) asks once
// before it acts. Without JavaScript the form (a GET) opens the confirmation page; with it, the
// same confirmation, fetched from that page's URL, opens here as a <dialog>. A form the server
// finds wrong is sent as usual, so its error shows on the page beside the field, as typed.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-confirm-form]")) return;
    var holder = form.parentElement.querySelector("[data-confirm-form-dialog]");
    if (!holder || typeof HTMLDialogElement !== "function") return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status !== 200) throw new Error("not confirmable");
        return response.text();
      })
      .then(function (html) {
        holder.innerHTML = html;
        // The page's one-click guard disabled the button; this submission only asked.
        if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
        var dialog = holder.querySelector("dialog");
        dialog.addEventListener("close", function () { if (button) button.focus(); });
        dialog.showModal();
        var submit = dialog.querySelector("button[type=submit]");
        if (submit) submit.focus();
      })
      .catch(function () { form.submit(); });
  });
})();
