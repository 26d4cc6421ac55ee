from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from releases.models import Release


@login_required
def home(request):
    releases = Release.objects.select_related("service", "created_by")[:20]
    return render(request, "home.html", {"releases": releases})
