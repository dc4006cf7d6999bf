import streamlit as st
st.title('mnist')
