"""The site's own routes: the bare address leads researchers to the admin."""

from django.urls import reverse


def test_the_bare_address_leads_to_the_admin(client, db):
    reply = client.get("/")
    assert reply.status_code == 302 and reply["Location"] == reverse("admin:index")
    login = client.get("/", follow=True)  # not logged in: the admin asks for a login
    assert login.redirect_chain[-1][0].startswith(reverse("admin:login"))


def test_the_admin_offers_no_view_site_link_back_to_itself(admin_client):
    for url in (reverse("admin:index"), reverse("admin:experiment_participant_changelist")):
        page = admin_client.get(url).content.decode()
        assert "View site" not in page, url
