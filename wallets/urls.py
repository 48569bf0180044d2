from django.urls import path

from wallets import apis, staff_apis

urlpatterns = [
    path("wallet/me", apis.WalletMeApi.as_view(), name="wallet-me"),
    path("transactions/me", apis.TransactionsMeApi.as_view(), name="transactions-me"),
    path("wallet/statement", apis.StatementApi.as_view(), name="wallet-statement"),
    path("wallet/transfer", apis.TransferApi.as_view(), name="wallet-transfer"),
    path("admin/fund-wallet", staff_apis.AdminFundWalletApi.as_view(), name="admin-fund-wallet"),
    path("admin/debit-wallet", staff_apis.AdminDebitWalletApi.as_view(), name="admin-debit-wallet"),
    path("admin/adjustments/<int:adjustment_id>/approve", staff_apis.AdminAdjustmentApproveApi.as_view(),
         name="admin-adjustment-approve"),
    path("admin/adjustments/<int:adjustment_id>/reject", staff_apis.AdminAdjustmentRejectApi.as_view(),
         name="admin-adjustment-reject"),
    path("admin/wallets/<str:number>/freeze", staff_apis.AdminWalletFreezeApi.as_view(), name="admin-wallet-freeze"),
    path("admin/wallets/<str:number>/unfreeze", staff_apis.AdminWalletUnfreezeApi.as_view(), name="admin-wallet-unfreeze"),
]
