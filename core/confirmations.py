"""What an irreversible action asks before it acts, in one shape for every page: a title that
names the money ("Release 300.00 USD to Sam Seller?"), plain sentences saying what will happen,
one POST button, and a way back. The same confirmation is drawn as its own page (which works
without JavaScript) and as a <dialog> on the page that offers the action
(templates/partials/confirmation.html, static/js/confirm.js)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Confirmation:
    # What the action is ("release", "cancel", "revoke"...): the submit button carries
    # data-confirm-<kind>, and with `key` it names the dialog on the page.
    kind: str
    key: str
    title: str
    button: str
    action_url: str
    back_url: str
    back_label: str = "Not now"
    eyebrow: str = ""
    lines: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    # Said plainly before the button, e.g. that the stage was never marked delivered.
    warning: str = ""
    # Hidden inputs the POST carries (a second step of a form keeps what was typed).
    fields: tuple[tuple[str, str], ...] = field(default=())
    # A second step of a form may go back to it with everything typed: a button posting the
    # same fields with edit=1.
    edit_label: str = ""

    @property
    def dialog_id(self) -> str:
        return f"confirm-{self.key}"
