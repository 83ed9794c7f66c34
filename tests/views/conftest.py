import pytest
from django.test import Client


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def seller_client(seller):
    return client_for(seller)


@pytest.fixture
def buyer_client(buyer):
    return client_for(buyer)


@pytest.fixture
def stranger_client(stranger):
    return client_for(stranger)
