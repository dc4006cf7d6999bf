import streamlit as st
st.title('noise')
