"""The app's pages (run by `streamlit_app.py` through `st.navigation`) and their shared UI code.

A package, so pages can share helpers with `from app_pages.common import ...`.
"""
