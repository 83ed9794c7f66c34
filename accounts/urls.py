"""Sign-up, sign-in, email, password and two-factor pages are django-allauth's; the site's own
names for the ones every page links to (login, logout, signup, password_reset) come first."""

from allauth.account import views as allauth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.account, name="account"),
    path("signup/", allauth_views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", allauth_views.logout, name="logout"),
    path("password/reset/", allauth_views.password_reset, name="password_reset"),
    path("password/reset/done/", allauth_views.password_reset_done, name="password_reset_done"),
    path("", include("allauth.urls")),
]
