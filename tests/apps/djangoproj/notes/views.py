"""One view that writes a note and one that reads them all back."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

from notes.models import Note


@require_POST
def add_note(request):
    note = Note.objects.create(text=request.POST["text"])
    return JsonResponse({"id": note.id}, status=201)


@require_GET
def list_notes(request):
    notes = [{"id": n.id, "text": n.text} for n in Note.objects.order_by("id")]
    return JsonResponse({"notes": notes})
