"""Who may do what: with an admin key configured, anyone can draw, upload, label and browse,
but training, stopping, fine-tuning, deleting and importing ask for the key once per session.

The key comes from $MNIST_ADMIN_KEY, or `admin_key` in Streamlit's secrets; with neither,
everything is open (one person on their own machine). The key is compared in constant time,
never kept (only "this session is unlocked" is), never shown, logged or put in the link, and
each wrong try in a session waits longer before it is answered.
"""

from __future__ import annotations

import hmac
import os
import time
from pathlib import Path

import streamlit as st

ADMIN_KEY_ENV_VAR = "MNIST_ADMIN_KEY"
PROTECTED = "Training, stopping, fine-tuning, deleting and importing"
FIRST_WAIT_S = 1.0  # before answering the first wrong key; doubled for each one after
LONGEST_WAIT_S = 16.0
_UNLOCKED = "access_unlocked"
_WRONG_TRIES = "access_wrong_tries"
_REFUSED = "access_refused"  # the last try was wrong: say so once


class UnreadableSecrets(Exception):
    """A secrets file is there but cannot be read: the key it may hold is unknown."""


def admin_key() -> str | None:
    """The configured key, or None when there is none (then nothing is locked). Raises
    UnreadableSecrets when a secrets file exists but does not parse."""
    key = os.environ.get(ADMIN_KEY_ENV_VAR)
    if key:
        return key
    try:
        return st.secrets.get("admin_key") or None
    except FileNotFoundError as error:  # Streamlit's error for "no secrets" and "unparsable"
        files = [Path(name) for name in st.get_option("secrets.files")]
        if any(file.is_file() for file in files):
            raise UnreadableSecrets(str(error).splitlines()[0]) from None
        return None


def is_locked() -> bool:
    """Whether this session may not train, stop, fine-tune, delete or import (yet). A secrets
    file that cannot be read locks everything: it may hold a key meant to."""
    try:
        key = admin_key()
    except UnreadableSecrets:
        return True
    return key is not None and not st.session_state.get(_UNLOCKED, False)


def locked_help() -> str:
    return f"{PROTECTED} need the admin key on this server."


def unlock_ui(place: str) -> None:
    """Where a protected action would be: say it needs the key and take it, once."""
    if not is_locked():
        return
    try:
        admin_key()
    except UnreadableSecrets as error:
        st.error(
            f"{PROTECTED} are locked: the server's secrets file cannot be read ({error}). "
            f"Whoever runs the server can fix it, or set ${ADMIN_KEY_ENV_VAR}."
        )
        return
    field = f"unlock_key_{place}"
    with st.form(f"unlock_{place}", border=True):
        st.markdown(f"**{locked_help()}** Drawing, uploading, labelling and browsing do not.")
        st.text_input("Admin key", type="password", key=field)
        st.form_submit_button("Unlock", on_click=_try, args=(field,))
    if st.session_state.pop(_REFUSED, False):
        st.error("That is not the admin key.")


def _try(field: str) -> None:
    """The Unlock button's callback: it runs before the page, so it can empty the field."""
    typed = st.session_state.get(field) or ""
    st.session_state[field] = ""  # the typed key is kept nowhere
    if not typed:
        return
    if hmac.compare_digest(typed.encode(), admin_key().encode()):
        st.session_state[_UNLOCKED] = True
        st.session_state.pop(_WRONG_TRIES, None)
        return
    tries = st.session_state.get(_WRONG_TRIES, 0)
    time.sleep(min(FIRST_WAIT_S * 2**tries, LONGEST_WAIT_S))  # guessing costs time
    st.session_state[_WRONG_TRIES] = tries + 1
    st.session_state[_REFUSED] = True
