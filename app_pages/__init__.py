"""The app's pages (run by `streamlit_app.py` through `st.navigation`) and their shared UI code.

A package, so pages can share helpers (`from app_pages.active_model import ...`).
"""
