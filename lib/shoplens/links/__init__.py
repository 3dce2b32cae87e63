"""Tracking links: the UTM convention, the link registry, QR codes, the redirect service and its click log.

Links and clicks live in the warehouse tables `links` and `link_clicks` (migration 6), written through
`workspace_writer`; attribution reads them. The redirect server never opens the warehouse for a click.

Import from the modules (`shoplens.links.registry`, `.convention`, `.server`, `.load`, ...): this
package imports nothing itself, so the redirect server does not load pandas.
"""
