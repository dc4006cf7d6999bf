"""Page settings mirrored in the URL, and what a user did in their session.

Every widget a page declares through :class:`PageSettings` takes its first value from the URL's query
parameter of the same name (so a copied link opens the same view), falls back to its default with a
visible notice when that parameter is malformed, keeps its value across page switches, and writes its
current value back to the URL on every run.

A user's own models live only in ``st.session_state`` (see :func:`user_models`), so two people using one
hosted app never see or overwrite each other's work.
"""
from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st

USER_MODELS = "user_models"
COMPARISON = "comparison"


class PageSettings:
    """The settings of one page. Create it at the top of the page: it reserves the notice area."""

    def __init__(self, page: str):
        self.page = page
        self.notices: list[str] = []
        self._notice_area = st.empty()

    # --- the widgets ------------------------------------------------------------------------------
    def slider(self, name: str, label: str, low, high, default, step=None, container=None, **kwargs):
        """An int or float slider (the type of ``default``) bound to the query parameter ``name``."""
        kind = type(default)

        def parse(raw: str):
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError("not a whole number" if kind is int else "not a number") from None
            if not low <= value <= high:
                raise ValueError(f"outside {low} … {high}")
            return value
        key = self._prepare(name, default, parse, clamp=lambda v: min(max(v, low), high))
        value = (container or st).slider(label, low, high, step=step, key=key, persist_state="session",
                                         **kwargs)
        self._publish(name, value)
        return value

    def select(self, name: str, label: str, options: Sequence, default=None, container=None,
               widget: Callable = None, **kwargs):
        """A choice among ``options`` (strings) bound to ``name``; ``widget`` is st.selectbox, st.radio,
        st.segmented_control or st.pills (default st.selectbox)."""
        options = list(options)
        default = options[0] if default is None else default

        def parse(raw: str):
            if raw not in options:
                listed = ", ".join(map(str, options)) if len(options) <= 8 else f"the {len(options)} choices"
                raise ValueError(f"not one of {listed}")
            return raw
        key = self._prepare(name, default, parse, clamp=lambda v: v if v in options else default)
        name_of_widget = (widget or st.selectbox).__name__
        if name_of_widget in ("segmented_control", "pills"):
            kwargs.setdefault("required", True)  # a choice, not an optional filter: never empty
        value = getattr(container or st, name_of_widget)(label, options, key=key, persist_state="session", **kwargs)
        self._publish(name, value)
        return value

    def multiselect(self, name: str, label: str, options: Sequence, default: Sequence = (),
                    container=None, **kwargs) -> list:
        """Several of ``options`` (strings), as a comma-separated query parameter."""
        options = list(options)
        default = [d for d in default if d in options]

        most = kwargs.get("max_selections") or len(options)

        def parse(raw: str):
            chosen = [item.strip() for item in raw.split(",") if item.strip()]
            unknown = [item for item in chosen if item not in options]
            if unknown:
                raise ValueError(f"unknown {', '.join(unknown)}")
            if len(set(chosen)) < len(chosen):
                raise ValueError("a choice repeated")
            if len(chosen) > most:
                raise ValueError(f"more than {most}")
            return chosen
        key = self._prepare(name, default, parse, clamp=lambda v: [item for item in v if item in options][:most])
        value = (container or st).multiselect(label, options, key=key, persist_state="session", **kwargs)
        self._publish(name, ",".join(value))
        return value

    def toggle(self, name: str, label: str, default: bool = False, container=None, **kwargs) -> bool:
        def parse(raw: str):
            if raw not in ("true", "false"):
                raise ValueError("not true or false")
            return raw == "true"
        key = self._prepare(name, default, parse, clamp=bool)
        value = (container or st).toggle(label, key=key, persist_state="session", **kwargs)
        self._publish(name, "true" if value else "false")
        return value

    def reset(self, names: Sequence[str]) -> None:
        """Forget these settings (widget values and URL), so that their widgets start from their defaults."""
        for name in names:
            st.session_state.pop(f"{self.page}.{name}", None)
            if name in st.query_params:
                del st.query_params[name]

    # --- the URL round trip -------------------------------------------------------------------------
    def _prepare(self, name: str, default, parse: Callable, clamp: Callable) -> str:
        """Give the widget its first value (URL, else default) or keep its value inside new bounds."""
        key = f"{self.page}.{name}"
        if key in st.session_state:
            st.session_state[key] = clamp(st.session_state[key])
            return key
        value = default
        given = st.query_params.get_all(name)
        if len(given) > 1:
            self._notice(f"The link sets `{name}` {len(given)} times; using the last, `{given[-1]}`.")
        if given:
            try:
                value = parse(given[-1])
            except ValueError as error:
                self._notice(f"The link's setting `{name}={given[-1]}` was ignored ({error}); "
                             f"showing the default `{_format(default)}`.")
        st.session_state[key] = value
        return key

    def _notice(self, text: str) -> None:
        """Say at the top of the page that a URL parameter was not used as given: at once, so that the
        notice shows even where the page stops early (``st.stop``) after the widget."""
        self.notices.append(text)
        self._notice_area.warning("  \n".join(self.notices), icon="🔗")

    @staticmethod
    def _publish(name: str, value) -> None:
        text = _format(value)
        if st.query_params.get_all(name) != [text]:  # a repeated parameter is written back once
            st.query_params[name] = text


def _format(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


# --- the user's own work ---------------------------------------------------------------------------
def user_models() -> dict:
    """This session's own models: key → :class:`app.models.ModelEntry`."""
    return st.session_state.setdefault(USER_MODELS, {})


def comparison(default: Sequence[str]) -> list:
    """The model keys the user chose to compare (on the Models page); ``default`` until they choose."""
    return list(st.session_state.get(COMPARISON, default))


def set_comparison(keys: Sequence[str]) -> None:
    st.session_state[COMPARISON] = list(keys)


COMPARE_WIDGET = "models.compare"  # the Models page's multiselect, which keeps its own value


def add_to_comparison(key: str, default: Sequence[str]) -> None:
    """Compare a new model too (an upload, a trained model); also in the Models page's selector."""
    chosen = list(dict.fromkeys(st.session_state.get(COMPARE_WIDGET, comparison(default)) + [key]))
    set_comparison(chosen)
    st.session_state[COMPARE_WIDGET] = chosen
