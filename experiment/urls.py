"""Participant-facing routes under /study/."""

app_name = "experiment"
urlpatterns: list = []
