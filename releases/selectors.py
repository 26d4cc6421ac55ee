"""The releases API's two busiest reads, a page of releases and one release, as JSON written by
PostgreSQL from SQL written here once.

Through the ORM, most of each request was Python: building the query (about 0.8 ms), then
decoding timestamps and attributes only to encode them again. Here the database writes each row's
JSON and the view joins the rows (docs/performance.md). The shape is ReleaseSerializer's (with
`template`, ReleaseDetailSerializer's), which documents it in the OpenAPI schema;
tests/test_release_list_api.py keeps the two equal.
"""

from django.db import connection

from kubernaut.api import iso_time_sql

# Every piece of SQL below is a constant; values (the filters, the base URL) are parameters.
_COLUMNS = (
    "rel.id, %(url)s || rel.id AS url, s.name AS service, rel.version, rel.attributes, "
    f"rel.comment, u.username AS created_by, {iso_time_sql('rel.created_at')} AS created_at"
)
_FROM = (
    "FROM releases_release rel JOIN releases_service s ON s.id = rel.service_id "
    "JOIN auth_user u ON u.id = rel.created_by_id "
    "WHERE rel.deleted_at IS NULL"
)
# The list's filters (ReleaseFilterSerializer's fields). A service or a person is looked up
# first, so that the planner reads the (service, -id) or (created_by, -id) index in order rather
# than collecting all the service's releases and sorting them.
FILTERS = {
    "service": "rel.service_id = (SELECT id FROM releases_service WHERE name = %(service)s)",
    "version": "rel.version = %(version)s",
    "created_by": "rel.created_by_id = (SELECT id FROM auth_user WHERE username = %(created_by)s)",
    "created_after": "rel.created_at >= %(created_after)s",
    "created_before": "rel.created_at < %(created_before)s",
}


def page_sql(filters, *, position: int | None, reverse: bool) -> str:
    """The page query for the filters named in `filters` (FILTERS' keys) and a cursor position."""
    where = [FILTERS[name] for name in FILTERS if name in filters]
    if position is not None:
        where.append("rel.id > %(position)s" if reverse else "rel.id < %(position)s")
    return (
        f"SELECT rel.id, (SELECT row_to_json(r)::text FROM (SELECT {_COLUMNS}) r) "  # noqa: S608
        f"{_FROM}{''.join(' AND ' + clause for clause in where)} "
        f"ORDER BY rel.id {'ASC' if reverse else 'DESC'} LIMIT %(limit)s OFFSET %(offset)s"
    )


def release_page(
    base_url: str, filters: dict, *, position: int | None, reverse: bool, offset: int, limit: int
) -> list[dict]:
    """Up to `limit` releases matching `filters`, as {"id", "json"}: newest first below
    `position`, or (reverse) oldest first above it, for NewestFirstPagination.paginate_rows."""
    parameters = {
        **filters,
        "url": f"{base_url}releases/",
        "position": position,
        "limit": limit,
        "offset": offset,
    }
    with connection.cursor() as cursor:
        cursor.execute(page_sql(filters, position=position, reverse=reverse), parameters)
        return [{"id": id_, "json": text} for id_, text in cursor.fetchall()]


_DETAIL = (
    "SELECT (SELECT row_to_json(r)::text FROM "  # noqa: S608
    f"(SELECT {_COLUMNS}, rel.template) r) {_FROM} AND rel.id = %(id)s"
)


def release_detail(base_url: str, pk: int) -> str | None:
    """One release with its template, as JSON text; None if there is none (or it was deleted)."""
    with connection.cursor() as cursor:
        cursor.execute(_DETAIL, {"url": f"{base_url}releases/", "id": pk})
        row = cursor.fetchone()
    return row[0] if row else None
