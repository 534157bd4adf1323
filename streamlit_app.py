"""Entry point: `streamlit run streamlit_app.py`."""

import streamlit as st

st.set_page_config(page_title="MNIST digits", layout="wide")
st.title("MNIST digits")
st.write("Train a digit classifier with `python -m mnist_core train`; the app pages are coming.")
