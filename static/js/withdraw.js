// Withdraw asks once before it pays out. Without JavaScript the form opens the confirmation page;
// with it, the same confirmation (fetched from that page's URL) opens here as a <dialog>. A form
// the server finds wrong is sent as usual, so its errors show on the page beside the fields.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-withdraw-form]")) return;
    var holder = document.querySelector("[data-withdraw-dialog]");
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
        var dialog = holder.querySelector("dialog");
        if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
        dialog.addEventListener("close", function () { if (button) button.focus(); });
        dialog.showModal();
        var submit = dialog.querySelector("button[type=submit]");
        if (submit) submit.focus();
      })
      .catch(function () { form.submit(); });
  });
})();
