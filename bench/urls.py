from django.urls import path

from bench.views import TrivialView
from escrow_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("_bench/trivial", TrivialView.as_view()), *site_urlpatterns]
