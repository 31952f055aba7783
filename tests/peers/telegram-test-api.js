// Starts telegram-test-api (an emulated Telegram Bot API server) on
// 127.0.0.1:PORT for the delivery tests; stops on SIGTERM.
const TelegramServer = require('telegram-test-api');

const port = Number(process.argv[2]);
const server = new TelegramServer({ port, host: '127.0.0.1', storage: 'RAM', storeTimeout: 60 });
server.start().then(() => console.log(`ready ${server.config.apiURL}`));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
