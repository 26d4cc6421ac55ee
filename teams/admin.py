"""Managing teams and grants in the admin (docs/teams.md).

A grant is never edited in place: it is made, and revoked (soft-deleted) when it no longer
holds, so the list of grants, deleted ones included, is the history of who could do what where.
Both admins are plain ModelAdmin subclasses (through SoftDeleteAdmin), ready for a mixin that
records their changes.
"""

from django.contrib import admin
from django.db.models import Count

from clusters.models import Namespace
from kubernaut.admin import DeletedFilter, SoftDeleteAdmin
from teams.models import Grant, Team


@admin.register(Team)
class TeamAdmin(SoftDeleteAdmin):
    list_display = ["name", "sso_group", "member_count", "services_owned", "created_at",
                    "deleted_at"]  # fmt: skip
    list_filter = [DeletedFilter]
    search_fields = ["name", "sso_group", "members__username"]
    filter_horizontal = ["members"]
    fields = ["name", "members", "sso_group", "services_owned", "created_at"]
    readonly_fields = ["services_owned", "created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(member_total=Count("members", distinct=True))
            .prefetch_related("services")
        )

    @admin.display(description="members", ordering="member_total")
    def member_count(self, team: Team) -> int:
        return team.member_total

    @admin.display(description="services owned")
    def services_owned(self, team: Team) -> str:
        if team.pk is None:
            return "-"
        names = [service.name for service in team.services.all()]
        # Ownership is set on each service (Releases > Services), where it is looked for.
        return ", ".join(names) or "none yet: set the team on a service in Releases > Services"


class WhoFilter(admin.SimpleListFilter):
    title = "granted to"
    parameter_name = "to"

    def lookups(self, request, model_admin):
        return [("user", "A user"), ("team", "A team")]

    def queryset(self, request, queryset):
        if self.value() == "user":
            return queryset.filter(user__isnull=False)
        if self.value() == "team":
            return queryset.filter(team__isnull=False)
        return queryset


class WhereFilter(admin.SimpleListFilter):
    title = "on"
    parameter_name = "on"

    def lookups(self, request, model_admin):
        return [("cluster", "A whole cluster"), ("namespace", "One namespace")]

    def queryset(self, request, queryset):
        if self.value() == "cluster":
            return queryset.filter(namespace__isnull=True)
        if self.value() == "namespace":
            return queryset.filter(namespace__isnull=False)
        return queryset


@admin.register(Grant)
class GrantAdmin(SoftDeleteAdmin):
    list_display = ["who", "role", "where", "created_at", "deleted_at", "deleted_by"]
    list_filter = [DeletedFilter, "role", WhoFilter, WhereFilter, "cluster", "team"]
    list_select_related = ["user", "team", "cluster", "namespace__cluster", "deleted_by"]
    search_fields = ["user__username", "team__name", "cluster__name", "namespace__name"]
    fields = ["role", "user", "team", "cluster", "namespace", "created_at"]
    readonly_fields = ["created_at"]
    actions = ["revoke", "restore"]

    def get_readonly_fields(self, request, obj=None):
        # A grant changes by being revoked and made anew, so the list tells the whole story.
        if obj is not None:
            return self.fields
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "namespace":
            # "cluster/name" for each choice without one query per option.
            kwargs["queryset"] = Namespace.objects.select_related("cluster")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="granted to", ordering="team__name")
    def who(self, grant: Grant) -> str:
        return f"team {grant.team.name}" if grant.team_id else f"user {grant.user.username}"

    @admin.display(description="on", ordering="cluster__name")
    def where(self, grant: Grant) -> str:
        if grant.namespace_id:
            return str(grant.namespace)
        return f"{grant.cluster.name} (every namespace)"

    @admin.action(description="Revoke selected grants", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(grant.soft_delete(by=request.user) for grant in queryset.alive())
        self.message_user(
            request,
            f"Revoked {revoked} grant(s). They stay listed under “Deleted” and can be restored.",
        )
