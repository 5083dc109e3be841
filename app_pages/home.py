"""Home page: what the lab is, and one link with a two-sentence summary per available page."""

import streamlit as st

from ui import nav

# Home has no settings: a Back from another page must not leave that page's state in the URL
st.query_params.clear()
st.title("Low-Bit Lab")
st.markdown(
    "An interactive lab for the numbers inside low-precision machine learning: what an 8-, 6- "
    "or 4-bit format can hold, how a value is rounded into it, and what that does to training. "
    "Every view is a link: the address bar always holds the exact state of the page, so a copied "
    "URL shows someone else the same numbers, with the same random seed."
)
st.subheader("Pages")
for page in nav.available():
    with st.container(border=True):
        st.page_link(page.script, label=page.title, icon=page.icon)
        st.markdown(page.blurb)
st.caption(
    "Use the sidebar to move between pages. Each page's widgets are seeded from the URL when it "
    "opens; the “Share this view” box under the menu holds the link to what you see."
)
