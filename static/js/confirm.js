// Confirmations as dialogs. Every irreversible action is a link to its confirmation page, which
// works without JavaScript; with it, the link opens the same confirmation drawn in a <dialog>
// on this page (templates/partials/confirm_dialog.html) and asks once there.
(function () {
  "use strict";

  var opener = null;

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-confirm-open]");
    if (link) {
      var dialog = document.getElementById(link.dataset.confirmOpen);
      if (!dialog || typeof dialog.showModal !== "function") return;  // the page it links to asks
      event.preventDefault();
      opener = link;
      dialog.showModal();
      var submit = dialog.querySelector("button[type=submit]");
      if (submit) submit.focus();
      return;
    }
    var back = event.target.closest("dialog [data-confirm-back]");
    if (back) {
      event.preventDefault();
      back.closest("dialog").close();
    }
  });

  // Back to where the person was once the dialog closes (Escape, "Not now").
  document.addEventListener("close", function (event) {
    if (event.target.matches && event.target.matches("dialog[data-confirm-dialog]") && opener) {
      opener.focus();
      opener = null;
    }
  }, true);
})();
