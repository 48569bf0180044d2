"""Submit a console form as a browser would: read the page's <form> fields (inputs,
checkboxes, selects, textareas, the inline formsets' management fields), change some, post."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name")
        if tag == "input" and name and attr.get("type") not in ("submit", "button", "file"):
            if attr.get("type") in ("checkbox", "radio"):
                if "checked" in attr:
                    self.data[name] = attr.get("value") or "on"
            else:
                self.data[name] = attr.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attr:
            self.data[self._select] = attr.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n") if not self.data[self._textarea] else data


def form_data(html: str) -> dict[str, Any]:
    """The fields the page would submit, as the browser would fill them."""
    parser = _FormFields()
    parser.feed(html)
    parser.data.pop("csrfmiddlewaretoken", None)
    return parser.data


def post_form(client: Any, url: str, changes: dict[str, Any], *, drop: tuple[str, ...] = ()) -> Any:
    """GET `url`, apply `changes` (a checkbox is unticked by listing it in `drop`), POST it."""
    page = client.get(url)
    assert page.status_code == 200, url
    data = {**form_data(page.content.decode()), **changes}
    for name in drop:
        data.pop(name, None)
    return client.post(url, data)
