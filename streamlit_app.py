"""Entry point: `streamlit run streamlit_app.py`.

Three pages (Train, Draw, Models) and a sidebar showing the active model. Nothing here imports
TensorFlow, so the first page is up in a few seconds; the Draw page loads Keras when it first
reads a model file, and the Train page when it trains.
"""

import streamlit as st

from app_pages.active_model import model_sidebar
from app_pages.blas_threads import use_one_blas_thread
from app_pages.garbage import collect_garbage_regularly
from app_pages.person import keep_person_in_link

# Icons from the symbols common fonts carry (DejaVu has them): no emoji font needed.
st.set_page_config(page_title="MNIST digits", page_icon="✍️", layout="wide")
collect_garbage_regularly()
use_one_blas_thread()

# The app opens on Draw, what a newcomer can do at once (or, without a model, train one in a
# click); Train and Models follow.
page = st.navigation(
    [
        st.Page("app_pages/draw.py", title="Draw", icon="✏️", default=True),
        st.Page("app_pages/train.py", title="Train", icon="⚙️"),
        st.Page("app_pages/models.py", title="Models", icon="⚖️"),
    ]
)
page.run()
# After the page: a model it trained, picked or deleted shows here in the same run, and the
# link carries the session's model and person, so a reload keeps them.
model_sidebar()
keep_person_in_link()
