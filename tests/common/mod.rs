pub mod mock_oauth;
