"""Streamlit helpers shared by the pages (the library in explorer/ never imports streamlit)."""
