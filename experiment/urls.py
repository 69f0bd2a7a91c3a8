"""Participant-facing routes under /study/."""

from django.urls import path

from experiment import views

app_name = "experiment"
participant = "<slug:slug>/p/<str:token>/"
urlpatterns = [
    path("<slug:slug>/", views.study_enter, name="enter"),
    path("<slug:slug>/mturk/", views.mturk_hit, name="mturk_hit"),
    path("<slug:slug>/declined/", views.declined, name="declined"),
    path(participant, views.participant_home, name="home"),
    path(f"{participant}consent/", views.consent, name="consent"),
    path(f"{participant}reading/", views.reading, name="reading"),
    path(f"{participant}instructions/", views.instructions, name="instructions"),
    path(f"{participant}trials/", views.trials, name="trials"),
    path(f"{participant}answer/", views.answer, name="answer"),
    path(f"{participant}status/", views.participant_status, name="status"),
    path(f"{participant}complete/", views.complete, name="complete"),
]
